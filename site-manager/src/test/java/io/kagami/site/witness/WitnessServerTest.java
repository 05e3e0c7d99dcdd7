package io.kagami.site.witness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.failover.witness.LeaseReply;
import io.kagami.failover.witness.WitnessState;
import io.kagami.site.auth.BearerToken;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import org.junit.jupiter.api.Test;

/** The witness over real HTTP on loopback (ephemeral port), its clock still fake. */
class WitnessServerTest {
  /** The witness's clock, moved only by the test. */
  private static final class FakeClock implements InstantSource {
    private volatile Instant now = Instant.parse("2026-01-01T00:00:00Z");

    @Override
    public Instant instant() {
      return now;
    }

    void advance(Duration d) {
      now = now.plus(d);
    }
  }

  @Test
  void renewClaimReleaseAndStatusOverLoopback() throws Exception {
    FakeClock clock = new FakeClock();
    WitnessState state = new WitnessState(Duration.ofSeconds(10), Duration.ofSeconds(2), clock);
    clock.advance(Duration.ofSeconds(12));
    try (WitnessServer server =
        new WitnessServer(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), state)) {
      server.start();
      String at = "127.0.0.1:" + server.address().getPort();
      try (WitnessClient tokyo = new WitnessClient(at, Duration.ofSeconds(5));
          WitnessClient hiroshima = new WitnessClient(at, Duration.ofSeconds(5))) {
        LeaseReply first = tokyo.claim("pair-1", "tokyo", 0);
        assertThat(first.granted()).as(first.reason()).isTrue();
        assertThat(first.term()).isEqualTo(1);
        assertThat(first.leaseMillis()).isEqualTo(10_000);

        LeaseReply refused = hiroshima.claim("pair-1", "hiroshima", 1);
        assertThat(refused.granted()).isFalse();
        assertThat(refused.holder()).isEqualTo("tokyo");
        assertThat(refused.reason()).contains("tokyo holds the lease at term 1");

        clock.advance(Duration.ofSeconds(3));
        assertThat(tokyo.renew("pair-1", "tokyo", 1).granted()).isTrue();
        JsonNode status = tokyo.status();
        assertThat(status.path("version").asInt()).isEqualTo(1);
        assertThat(status.path("groups").path("pair-1").path("holder").asText()).isEqualTo("tokyo");
        assertThat(status.path("groups").path("pair-1").path("remainingMillis").asLong())
            .isEqualTo(10_000);

        assertThat(tokyo.release("pair-1", "tokyo", 1).granted()).isTrue();
        LeaseReply granted = hiroshima.claim("pair-1", "hiroshima", 1);
        assertThat(granted.granted()).isTrue();
        assertThat(granted.term()).isEqualTo(2);
        assertThat(tokyo.renew("pair-1", "tokyo", 1).holder()).isEqualTo("hiroshima");
      }

      try (HttpClient http = HttpClient.newHttpClient()) {
        URI base = URI.create("http://127.0.0.1:" + server.address().getPort());
        HttpResponse<String> bad =
            http.send(
                HttpRequest.newBuilder(base.resolve("/v1/claim"))
                    .POST(HttpRequest.BodyPublishers.ofString("{not json"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body()).contains("bad request");
        HttpResponse<String> noGroup =
            http.send(
                HttpRequest.newBuilder(base.resolve("/v1/claim"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"site\":\"x\",\"term\":0}"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(noGroup.statusCode()).isEqualTo(400);
        assertThat(noGroup.body()).contains("needs a group and a site");
        assertThat(
                http.send(
                        HttpRequest.newBuilder(base.resolve("/v1/renew")).GET().build(),
                        HttpResponse.BodyHandlers.ofString())
                    .statusCode())
            .isEqualTo(405);
        assertThat(
                http.send(
                        HttpRequest.newBuilder(base.resolve("/nope")).GET().build(),
                        HttpResponse.BodyHandlers.ofString())
                    .statusCode())
            .isEqualTo(404);
      }
    }
  }

  @Test
  void unreachableWitnessIsAnIOException() throws Exception {
    int port;
    try (java.net.ServerSocket s =
        new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    try (WitnessClient client = new WitnessClient("127.0.0.1:" + port, Duration.ofSeconds(2))) {
      assertThatThrownBy(() -> client.renew("g", "tokyo", 1)).isInstanceOf(IOException.class);
    }
  }

  @Test
  void withATokenOnlyRequestsCarryingItMayTouchALease() throws Exception {
    FakeClock clock = new FakeClock();
    WitnessState state = new WitnessState(Duration.ofSeconds(10), Duration.ofSeconds(2), clock);
    clock.advance(Duration.ofSeconds(12));
    BearerToken token = BearerToken.of("witness-token-0123456789");
    try (WitnessServer server =
        new WitnessServer(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), state, token)) {
      server.start();
      String at = "127.0.0.1:" + server.address().getPort();
      try (WitnessClient tokyo = new WitnessClient(at, Duration.ofSeconds(5), token);
          WitnessClient anonymous = new WitnessClient(at, Duration.ofSeconds(5));
          WitnessClient wrong =
              new WitnessClient(
                  at, Duration.ofSeconds(5), BearerToken.of("witness-token-0123456780"))) {
        assertThat(tokyo.claim("pair-1", "tokyo", 0).granted()).isTrue();

        // Forged as tokyo: a release would let the other site claim a live primary's lease.
        assertThatThrownBy(() -> anonymous.release("pair-1", "tokyo", 1))
            .isInstanceOf(IOException.class)
            .hasMessageContaining("HTTP 401")
            .hasMessageContaining("failover.witnessTokenFile");
        assertThatThrownBy(() -> wrong.release("pair-1", "tokyo", 1))
            .hasMessageContaining("HTTP 401");
        assertThatThrownBy(() -> anonymous.claim("pair-2", "mallory", 0))
            .hasMessageContaining("HTTP 401");
        assertThat(state.all().get("pair-1").released())
            .as("nothing refused changed the lease")
            .isFalse();
        assertThat(state.all()).doesNotContainKey("pair-2");

        assertThat(anonymous.status().path("groups").path("pair-1").path("holder").asText())
            .as("status needs no token")
            .isEqualTo("tokyo");
        assertThat(tokyo.release("pair-1", "tokyo", 1).granted()).isTrue();
      }
    }
  }
}
