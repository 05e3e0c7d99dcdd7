package io.kagami.wan.receive;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Everything the receiver keeps for one primary site (a peer, named by its certificate's CN) across
 * that peer's connections: the connection that serves it now, and one {@link VolumeChain} per
 * volume it replicates here. Peers share nothing else: each has its own connection, its own chains
 * (two peers may both have a "vol0") and its own back-pressure ({@link InflowGate} of its
 * connection), so a cut, a resync or a slow store of one never holds up another's. Storage quotas
 * and state per peer (a later issue) hang off this class and the sinks its catalog returns.
 *
 * <p>Thread-safe: attached and detached on event loops, read by status threads.
 */
final class PeerRoute {
  private final String siteId;
  private final Map<String, VolumeChain> chains = new ConcurrentHashMap<>();
  private volatile ReceiveSession session;

  PeerRoute(String siteId) {
    this.siteId = siteId;
  }

  String siteId() {
    return siteId;
  }

  /** The chain of {@code volume}, created on first use. */
  VolumeChain chain(String volume) {
    return chains.computeIfAbsent(volume, v -> new VolumeChain(siteId, v));
  }

  List<VolumeChain> chains() {
    return List.copyOf(chains.values());
  }

  /** {@code s} now serves this peer; returns the connection it replaces (null if none). */
  synchronized ReceiveSession attach(ReceiveSession s) {
    ReceiveSession previous = session;
    session = s;
    return previous == s ? null : previous;
  }

  /** {@code s} ended; the peer has no connection unless a newer one replaced it already. */
  synchronized void detach(ReceiveSession s) {
    if (session == s) {
      session = null;
    }
  }

  /** The connection serving this peer now, or null. */
  ReceiveSession session() {
    return session;
  }
}
