package io.kagami.wan.ship;

import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.tls.SiteCredentials;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Objects;

/**
 * Settings of a primary's link to its standby; validated once, here.
 *
 * @param host the standby's WAN address
 * @param port its port
 * @param credentials this site's key and certificate; the CN is the site id sent in HELLO
 * @param peerCertificate the standby's certificate: the only one trusted; its CN is the standby's
 *     site id, which its WELCOME must repeat
 * @param maxBatchBytes target size of one BATCH, in entry bytes (a single larger entry still goes
 *     alone)
 * @param maxBatchDelay how long entries may wait for more to fill a batch while earlier batches of
 *     the volume are unacknowledged; zero ships whatever is there at once
 * @param windowBytes unacknowledged entry bytes in flight per volume: what fills a long fat link
 * @param reconnectMin first reconnect delay after a failure, doubling up to {@code reconnectMax}
 * @param reconnectMax longest reconnect delay
 * @param heartbeat idle interval after which a HEARTBEAT is sent; three without any frame from the
 *     standby and the link is declared down
 * @param connectTimeout bound on each of connecting, the TLS handshake and HELLO → WELCOME
 * @param maxFrameBytes largest frame accepted or sent
 * @param bandwidthBytesPerSecond the link's initial cap on bytes put on the wire (after batch
 *     compression, TLS included), in bytes per second; 0 = unlimited. {@link Shipper#setBandwidth}
 *     changes it at run time.
 */
public record ShipperConfig(
    String host,
    int port,
    SiteCredentials credentials,
    X509Certificate peerCertificate,
    int maxBatchBytes,
    Duration maxBatchDelay,
    int windowBytes,
    Duration reconnectMin,
    Duration reconnectMax,
    Duration heartbeat,
    Duration connectTimeout,
    int maxFrameBytes,
    long bandwidthBytesPerSecond) {

  public static final int DEFAULT_MAX_BATCH_BYTES = 1 << 20;
  public static final Duration DEFAULT_MAX_BATCH_DELAY = Duration.ofMillis(2);
  public static final int DEFAULT_WINDOW_BYTES = 16 << 20;
  public static final Duration DEFAULT_RECONNECT_MIN = Duration.ofMillis(100);
  public static final Duration DEFAULT_RECONNECT_MAX = Duration.ofSeconds(5);
  public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(2);
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
  public static final int DEFAULT_MAX_FRAME_BYTES = 64 << 20;
  public static final int MIN_BATCH_BYTES = 4 << 10;

  public ShipperConfig {
    Objects.requireNonNull(host, "standby host");
    Objects.requireNonNull(credentials, "credentials");
    Objects.requireNonNull(peerCertificate, "peer certificate");
    Objects.requireNonNull(maxBatchDelay, "maxBatchDelay");
    Objects.requireNonNull(reconnectMin, "reconnectMin");
    Objects.requireNonNull(reconnectMax, "reconnectMax");
    Objects.requireNonNull(heartbeat, "heartbeat");
    Objects.requireNonNull(connectTimeout, "connectTimeout");
    String p = "WAN link to " + host + ":" + port + ": ";
    if (host.isBlank() || port < 1 || port > 65535) {
      throw new IllegalArgumentException(
          p + "the standby's address must be a host and a port 1..65535");
    }
    if (SiteCredentials.commonName(peerCertificate).isEmpty()) {
      throw new IllegalArgumentException(p + "the standby's certificate has no CN (its site id)");
    }
    if (maxFrameBytes < WanCodec.MIN_MAX_FRAME_BYTES) {
      throw new IllegalArgumentException(
          p + "maximum frame " + maxFrameBytes + " bytes is below " + WanCodec.MIN_MAX_FRAME_BYTES);
    }
    if (maxBatchBytes < MIN_BATCH_BYTES || maxBatchBytes > maxFrameBytes / 2) {
      throw new IllegalArgumentException(
          p
              + "batch size "
              + maxBatchBytes
              + " bytes must be between "
              + MIN_BATCH_BYTES
              + " and half the maximum frame ("
              + maxFrameBytes / 2
              + ")");
    }
    if (windowBytes < maxBatchBytes) {
      throw new IllegalArgumentException(
          p
              + "window of "
              + windowBytes
              + " bytes must hold at least one batch ("
              + maxBatchBytes
              + ")");
    }
    if (maxBatchDelay.isNegative()) {
      throw new IllegalArgumentException(p + "batch delay " + maxBatchDelay + " is negative");
    }
    if (reconnectMin.compareTo(Duration.ofMillis(1)) < 0
        || reconnectMax.compareTo(reconnectMin) < 0) {
      throw new IllegalArgumentException(
          p
              + "reconnect delays "
              + reconnectMin
              + ".."
              + reconnectMax
              + " must be at least 1 ms and in order");
    }
    if (bandwidthBytesPerSecond < 0) {
      throw new IllegalArgumentException(
          p + "bandwidth " + bandwidthBytesPerSecond + " B/s is negative (0 = unlimited)");
    }
    if (heartbeat.compareTo(Duration.ofMillis(10)) < 0
        || connectTimeout.compareTo(Duration.ofMillis(10)) < 0) {
      throw new IllegalArgumentException(
          p
              + "heartbeat "
              + heartbeat
              + " and connect timeout "
              + connectTimeout
              + " must be at least 10 ms");
    }
  }

  /**
   * The defaults: 1 MiB batches, 2 ms batch delay, 16 MiB window, reconnect 100 ms..5 s, heartbeat
   * 2 s, 64 MiB frames, no bandwidth cap.
   */
  public static ShipperConfig defaults(
      String host, int port, SiteCredentials credentials, X509Certificate peer) {
    return new ShipperConfig(
        host,
        port,
        credentials,
        peer,
        DEFAULT_MAX_BATCH_BYTES,
        DEFAULT_MAX_BATCH_DELAY,
        DEFAULT_WINDOW_BYTES,
        DEFAULT_RECONNECT_MIN,
        DEFAULT_RECONNECT_MAX,
        DEFAULT_HEARTBEAT,
        DEFAULT_CONNECT_TIMEOUT,
        DEFAULT_MAX_FRAME_BYTES,
        0);
  }

  /** This (primary) site's id: the CN of its certificate. */
  public String siteId() {
    return credentials.siteId();
  }

  /** The standby's site id: the CN of the pinned certificate. */
  public String peerSiteId() {
    return SiteCredentials.commonName(peerCertificate);
  }

  public ShipperConfig withBatching(int maxBatchBytes, Duration maxBatchDelay, int windowBytes) {
    return new ShipperConfig(
        host,
        port,
        credentials,
        peerCertificate,
        maxBatchBytes,
        maxBatchDelay,
        windowBytes,
        reconnectMin,
        reconnectMax,
        heartbeat,
        connectTimeout,
        maxFrameBytes,
        bandwidthBytesPerSecond);
  }

  public ShipperConfig withReconnect(Duration min, Duration max) {
    return new ShipperConfig(
        host,
        port,
        credentials,
        peerCertificate,
        maxBatchBytes,
        maxBatchDelay,
        windowBytes,
        min,
        max,
        heartbeat,
        connectTimeout,
        maxFrameBytes,
        bandwidthBytesPerSecond);
  }

  public ShipperConfig withHeartbeat(Duration heartbeat) {
    return new ShipperConfig(
        host,
        port,
        credentials,
        peerCertificate,
        maxBatchBytes,
        maxBatchDelay,
        windowBytes,
        reconnectMin,
        reconnectMax,
        heartbeat,
        connectTimeout,
        maxFrameBytes,
        bandwidthBytesPerSecond);
  }

  /** With an initial bandwidth cap in bytes per second (0 = unlimited). */
  public ShipperConfig withBandwidth(long bytesPerSecond) {
    return new ShipperConfig(
        host,
        port,
        credentials,
        peerCertificate,
        maxBatchBytes,
        maxBatchDelay,
        windowBytes,
        reconnectMin,
        reconnectMax,
        heartbeat,
        connectTimeout,
        maxFrameBytes,
        bytesPerSecond);
  }
}
