package io.kagami.failover.rulefixture;

import java.io.IOException;
import java.net.Socket;

/** Breaks {@code FAILOVER_CORE_IS_PURE}: a decision that does network I/O. */
final class PolicyOpeningASocket {
  boolean peerAnswers(String host, int port) {
    try (Socket s = new Socket(host, port)) {
      return s.isConnected();
    } catch (IOException e) {
      return false;
    }
  }
}
