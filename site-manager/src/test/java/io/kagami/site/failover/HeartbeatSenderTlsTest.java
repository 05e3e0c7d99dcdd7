package io.kagami.site.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.failover.heartbeat.Heartbeat;
import io.kagami.site.admin.HttpEndpoint;
import io.kagami.site.auth.HttpTls;
import io.kagami.site.config.HostPort;
import io.kagami.wan.tls.SiteCredentials;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Heartbeats to a peer whose admin port speaks HTTPS: answered when the peer presents the
 * certificate this site trusts for it, refused (and said so in the status) when it presents
 * another.
 */
class HeartbeatSenderTlsTest {
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  @TempDir Path dir;

  private static Heartbeat beat(String site) {
    return new Heartbeat(
        site, 1, site.equals("tokyo"), false, false, T0, null, Duration.ofSeconds(8));
  }

  @Test
  void heartbeatsGoOverHttpsToThePeerWithTheTrustedCertificateOnly() throws Exception {
    SiteCredentials hiroshima = SiteCredentials.loadOrCreate(dir.resolve("h"), "hiroshima");
    SiteCredentials other = SiteCredentials.loadOrCreate(dir.resolve("o"), "other");
    byte[] answer = HeartbeatMessage.encode(beat("hiroshima"));
    try (HttpEndpoint peer =
        HttpEndpoint.start(
            new InetSocketAddress("127.0.0.1", 0),
            ex -> {
              ex.getRequestBody().readAllBytes();
              ex.sendResponseHeaders(200, answer.length);
              ex.getResponseBody().write(answer);
              ex.close();
            },
            HttpTls.server(hiroshima))) {
      HostPort at = new HostPort("127.0.0.1", peer.address().getPort());
      CompletableFuture<Heartbeat> heard = new CompletableFuture<>();
      try (HeartbeatSender right =
          new HeartbeatSender(
              at,
              hiroshima.certificateFile(),
              Duration.ofSeconds(10),
              () -> beat("tokyo"),
              heard::complete)) {
        right.start();
        right.send();
        assertThat(heard.get(30, TimeUnit.SECONDS).siteId()).isEqualTo("hiroshima");
        right.lastRequest().get(30, TimeUnit.SECONDS);
        assertThat(right.lastError()).isNull();
      }
      try (HeartbeatSender wrong =
          new HeartbeatSender(
              at,
              other.certificateFile(),
              Duration.ofSeconds(10),
              () -> beat("tokyo"),
              h -> {
                throw new AssertionError("heard a peer it does not trust: " + h);
              })) {
        wrong.start();
        wrong.send();
        wrong.lastRequest().get(30, TimeUnit.SECONDS);
        assertThat(wrong.lastError())
            .contains("https://" + at + "/heartbeat")
            .contains("the peer presented CN=hiroshima (SHA-256 ")
            .contains("is not signed by " + other.certificateFile());
      }
    }
  }
}
