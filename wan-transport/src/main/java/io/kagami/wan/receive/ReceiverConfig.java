package io.kagami.wan.receive;

import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.tls.SiteCredentials;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Settings of a standby's WAN listener; validated once, here.
 *
 * @param host bind address
 * @param port bind port; 0 = ephemeral (see {@link Receiver#port()})
 * @param credentials this site's key and certificate; the CN is the site id sent in WELCOME
 * @param peerCertificates the certificates of the primaries allowed to connect (several primaries
 *     may mirror into one standby); a primary's HELLO must name its certificate's CN
 * @param heartbeat idle interval after which a HEARTBEAT is sent; three without any frame from the
 *     primary and its connection is closed. Use the same value as the primaries.
 * @param maxFrameBytes largest frame accepted or sent
 * @param maxUnstoredBytes entry bytes received but not yet durable, per connection, above which the
 *     receiver stops reading from that primary until storage catches up
 * @param ioThreads event loops serving the connections (1..64); connections beyond that share them,
 *     which is safe because an event loop never waits on storage
 */
public record ReceiverConfig(
    String host,
    int port,
    SiteCredentials credentials,
    List<X509Certificate> peerCertificates,
    Duration heartbeat,
    int maxFrameBytes,
    long maxUnstoredBytes,
    int ioThreads) {
  public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(2);
  public static final int DEFAULT_MAX_FRAME_BYTES = 64 << 20;
  public static final long DEFAULT_MAX_UNSTORED_BYTES = 64L << 20;
  public static final int DEFAULT_IO_THREADS = 2;

  public ReceiverConfig {
    Objects.requireNonNull(host, "bind host");
    Objects.requireNonNull(credentials, "credentials");
    Objects.requireNonNull(heartbeat, "heartbeat");
    peerCertificates = List.copyOf(peerCertificates);
    String p = "WAN listener on " + host + ":" + port + ": ";
    if (host.isBlank() || port < 0 || port > 65535) {
      throw new IllegalArgumentException(
          p + "the bind address must be a host and a port 0..65535 (0 = any free port)");
    }
    if (peerCertificates.isEmpty()) {
      throw new IllegalArgumentException(
          p + "a standby must be paired with at least one primary's certificate");
    }
    for (X509Certificate c : peerCertificates) {
      if (SiteCredentials.commonName(c).isEmpty()) {
        throw new IllegalArgumentException(
            p
                + "a paired certificate (SHA-256 "
                + SiteCredentials.fingerprint(c)
                + ") has no CN, so it names no site");
      }
    }
    if (heartbeat.compareTo(Duration.ofMillis(10)) < 0) {
      throw new IllegalArgumentException(p + "heartbeat " + heartbeat + " must be at least 10 ms");
    }
    if (maxFrameBytes < WanCodec.MIN_MAX_FRAME_BYTES) {
      throw new IllegalArgumentException(
          p + "maximum frame " + maxFrameBytes + " bytes is below " + WanCodec.MIN_MAX_FRAME_BYTES);
    }
    if (maxUnstoredBytes < maxFrameBytes) {
      throw new IllegalArgumentException(
          p
              + "unstored bytes limit "
              + maxUnstoredBytes
              + " must hold at least one frame ("
              + maxFrameBytes
              + ")");
    }
    if (ioThreads < 1 || ioThreads > 64) {
      throw new IllegalArgumentException(p + "I/O threads " + ioThreads + " must be 1..64");
    }
  }

  /** The defaults: heartbeat 2 s, 64 MiB frames, 64 MiB unstored per connection, 2 I/O threads. */
  public static ReceiverConfig defaults(
      String host, int port, SiteCredentials credentials, List<X509Certificate> peers) {
    return new ReceiverConfig(
        host,
        port,
        credentials,
        peers,
        DEFAULT_HEARTBEAT,
        DEFAULT_MAX_FRAME_BYTES,
        DEFAULT_MAX_UNSTORED_BYTES,
        DEFAULT_IO_THREADS);
  }

  /** This (standby) site's id: the CN of its certificate. */
  public String siteId() {
    return credentials.siteId();
  }

  public ReceiverConfig withPort(int port) {
    return new ReceiverConfig(
        host,
        port,
        credentials,
        peerCertificates,
        heartbeat,
        maxFrameBytes,
        maxUnstoredBytes,
        ioThreads);
  }

  public ReceiverConfig withHeartbeat(Duration heartbeat) {
    return new ReceiverConfig(
        host,
        port,
        credentials,
        peerCertificates,
        heartbeat,
        maxFrameBytes,
        maxUnstoredBytes,
        ioThreads);
  }

  public ReceiverConfig withMaxFrameBytes(int maxFrameBytes) {
    return new ReceiverConfig(
        host,
        port,
        credentials,
        peerCertificates,
        heartbeat,
        maxFrameBytes,
        Math.max(maxUnstoredBytes, maxFrameBytes),
        ioThreads);
  }

  public ReceiverConfig withIoThreads(int ioThreads) {
    return new ReceiverConfig(
        host,
        port,
        credentials,
        peerCertificates,
        heartbeat,
        maxFrameBytes,
        maxUnstoredBytes,
        ioThreads);
  }
}
