package io.kagami.testkit.net;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Free TCP ports on 127.0.0.1 for servers a test starts in another process (which must be told a
 * port, unlike an in-process server that can bind port 0 and report it).
 *
 * <p>A port is chosen at random below Linux's default ephemeral range (32768-60999), so it does not
 * collide with ports the kernel hands to outgoing connections, and bound once to prove it is free.
 * Within one JVM a port is never handed out twice. Between the check and the real bind another
 * process could take it; callers starting external servers retry on "address in use".
 */
public final class FreePorts {
  private static final int LOWEST = 20_000;
  private static final int HIGHEST_EXCLUSIVE = 32_768;
  private static final int ATTEMPTS = 200;
  private static final Set<Integer> HANDED_OUT = ConcurrentHashMap.newKeySet();

  private FreePorts() {}

  /** 127.0.0.1, as an address (never resolves a name, never ::1). */
  public static InetAddress loopback() {
    try {
      return InetAddress.getByAddress(new byte[] {127, 0, 0, 1});
    } catch (UnknownHostException e) {
      throw new AssertionError("a 4-byte address is always valid", e);
    }
  }

  /** One free port on 127.0.0.1. */
  public static int loopbackPort() {
    return loopbackPorts(1)[0];
  }

  /** {@code 127.0.0.1:<free port>}. */
  public static InetSocketAddress loopbackAddress() {
    return new InetSocketAddress(loopback(), loopbackPort());
  }

  /** {@code count} distinct free ports on 127.0.0.1 (all were bound at the same time). */
  public static int[] loopbackPorts(int count) {
    if (count < 1) {
      throw new IllegalArgumentException("count must be at least 1, got " + count);
    }
    List<ServerSocket> held = new ArrayList<>();
    try {
      int[] ports = new int[count];
      for (int i = 0; i < count; i++) {
        ServerSocket s = bindFree();
        held.add(s);
        ports[i] = s.getLocalPort();
      }
      return ports;
    } finally {
      for (ServerSocket s : held) {
        try {
          s.close();
        } catch (IOException ignored) {
          // Closing a listening socket that never accepted does not fail in practice.
        }
      }
    }
  }

  private static ServerSocket bindFree() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
      int port = random.nextInt(LOWEST, HIGHEST_EXCLUSIVE);
      if (!HANDED_OUT.add(port)) {
        continue;
      }
      try {
        return new ServerSocket(port, 1, loopback());
      } catch (IOException inUse) {
        // Taken by someone else; try another.
      }
    }
    // Crowded range: fall back to a port the kernel picks.
    try {
      ServerSocket s = new ServerSocket(0, 1, loopback());
      HANDED_OUT.add(s.getLocalPort());
      return s;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot bind any port on 127.0.0.1", e);
    }
  }
}
