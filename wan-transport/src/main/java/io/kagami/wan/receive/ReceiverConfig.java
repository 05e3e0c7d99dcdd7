package io.kagami.wan.receive;

import io.kagami.wan.tls.SiteCredentials;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Settings of a standby's WAN listener.
 *
 * @param host bind address
 * @param port bind port (0 = ephemeral; see {@link Receiver#port()})
 * @param credentials this site's key and certificate
 * @param peerCertificates the certificates of the primaries allowed to connect
 * @param heartbeat idle interval after which a heartbeat is sent; 3 missed = link down
 * @param maxFrameBytes largest frame accepted
 */
public record ReceiverConfig(String host, int port, SiteCredentials credentials, List<X509Certificate> peerCertificates, Duration heartbeat, int maxFrameBytes) {
  public ReceiverConfig {
    Objects.requireNonNull(host, "bind host");
    Objects.requireNonNull(credentials, "credentials");
    peerCertificates = List.copyOf(peerCertificates);
    if (peerCertificates.isEmpty()) {
      throw new IllegalArgumentException("a standby must be paired with at least one primary certificate");
    }
  }

  public static ReceiverConfig defaults(String host, int port, SiteCredentials credentials, List<X509Certificate> peers) {
    return new ReceiverConfig(host, port, credentials, peers, Duration.ofSeconds(2), 64 << 20);
  }
}
