package io.kagami.wan.ship;

import io.kagami.wan.tls.SiteCredentials;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Objects;

/**
 * Settings of a primary's link to its standby.
 *
 * @param host the standby's WAN address
 * @param port its port
 * @param credentials this site's key and certificate
 * @param peerCertificate the standby's certificate: the only one trusted
 * @param maxBatchBytes entries per BATCH frame, by encoded size
 * @param windowBytes unacknowledged bytes in flight per volume; fills a long fat link
 * @param reconnectMin first reconnect delay, doubling up to {@code reconnectMax}
 * @param reconnectMax longest reconnect delay
 * @param heartbeat idle interval after which a heartbeat is sent; 3 missed = link down
 * @param maxFrameBytes largest frame accepted
 */
public record ShipperConfig(
    String host,
    int port,
    SiteCredentials credentials,
    X509Certificate peerCertificate,
    int maxBatchBytes,
    int windowBytes,
    Duration reconnectMin,
    Duration reconnectMax,
    Duration heartbeat,
    int maxFrameBytes) {

  public static final int DEFAULT_MAX_BATCH_BYTES = 1 << 20;
  public static final int DEFAULT_WINDOW_BYTES = 32 << 20;
  public static final int DEFAULT_MAX_FRAME_BYTES = 64 << 20;

  public ShipperConfig {
    Objects.requireNonNull(host, "standby host");
    Objects.requireNonNull(credentials, "credentials");
    Objects.requireNonNull(peerCertificate, "peer certificate");
    if (maxBatchBytes < 4096 || maxBatchBytes > maxFrameBytes / 2) {
      throw new IllegalArgumentException("batch size " + maxBatchBytes + " must be between 4 KiB and half the maximum frame");
    }
    if (windowBytes < maxBatchBytes) {
      throw new IllegalArgumentException("window " + windowBytes + " must hold at least one batch (" + maxBatchBytes + ")");
    }
  }

  public static ShipperConfig defaults(String host, int port, SiteCredentials credentials, X509Certificate peer) {
    return new ShipperConfig(host, port, credentials, peer, DEFAULT_MAX_BATCH_BYTES, DEFAULT_WINDOW_BYTES, Duration.ofMillis(100), Duration.ofSeconds(5), Duration.ofSeconds(2), DEFAULT_MAX_FRAME_BYTES);
  }
}
