package io.kagami.site.witness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.clock.SystemTime;
import io.kagami.failover.witness.LeaseReply;
import io.kagami.failover.witness.WitnessState;
import io.kagami.site.auth.BearerToken;
import io.kagami.site.auth.HttpTls;
import io.kagami.wan.tls.SiteCredentials;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The witness over HTTPS: a site that trusts the witness's certificate gets its lease; one that
 * trusts another certificate is refused before its token is sent; a token never goes over plain
 * HTTP to another machine.
 */
class WitnessTlsTest {
  private static final BearerToken TOKEN = BearerToken.of("witness-token-0123456789abcdef");
  @TempDir Path dir;

  @Test
  void leasesOverHttpsOnlyWithTheWitnesssCertificate() throws Exception {
    SiteCredentials witness = SiteCredentials.loadOrCreate(dir.resolve("w"), "witness");
    SiteCredentials other = SiteCredentials.loadOrCreate(dir.resolve("o"), "other");
    WitnessState state =
        new WitnessState(Duration.ofSeconds(10), Duration.ofSeconds(2), SystemTime.WALL);
    try (WitnessServer server =
        new WitnessServer(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
            state,
            TOKEN,
            HttpTls.server(witness))) {
      server.start();
      String at = "127.0.0.1:" + server.address().getPort();
      try (WitnessClient right =
              new WitnessClient(
                  at, HttpTls.client(witness.certificateFile()), Duration.ofSeconds(5), TOKEN);
          WitnessClient wrong =
              new WitnessClient(
                  at, HttpTls.client(other.certificateFile()), Duration.ofSeconds(5), TOKEN);
          WitnessClient plain = new WitnessClient(at, Duration.ofSeconds(5), TOKEN)) {
        LeaseReply r = right.release("pair-1", "tokyo", 0);
        assertThat(r).isNotNull();
        assertThat(right.status().path("version").asInt()).isEqualTo(1);
        assertThatThrownBy(() -> wrong.release("pair-1", "tokyo", 0))
            .satisfies(
                e ->
                    assertThat(HttpTls.untrusted(e))
                        .as("refused for the certificate the witness presented: %s", e)
                        .isNotNull());
        assertThatThrownBy(() -> plain.release("pair-1", "tokyo", 0))
            .as("plain HTTP to the HTTPS witness gets no answer")
            .isInstanceOf(java.io.IOException.class);
      }
    }
  }

  @Test
  void aTokenIsNeverSentOverPlainHttpToAnotherMachine() {
    assertThatThrownBy(
            () -> new WitnessClient("192.0.2.7:7900", null, Duration.ofSeconds(1), TOKEN))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(
            "refusing to send the witness token over plain HTTP to 192.0.2.7:7900");
    new WitnessClient("192.0.2.7:7900", null, Duration.ofSeconds(1), null).close();
  }
}
