package io.kagami.testkit.toxi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import eu.rekawek.toxiproxy.Proxy;
import eu.rekawek.toxiproxy.ToxiproxyClient;
import eu.rekawek.toxiproxy.model.Toxic;
import eu.rekawek.toxiproxy.model.ToxicDirection;
import eu.rekawek.toxiproxy.model.toxic.Latency;
import eu.rekawek.toxiproxy.model.toxic.Slicer;
import java.io.IOException;
import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Toxiproxy HTTP API as the official Java client sees it. Runs against the in-process server,
 * or a real Toxiproxy when {@code TOXIPROXY_URL} is set, so the two stay interchangeable.
 */
class ToxiproxyApiTest {
  private LoopbackUpstream echo;
  private Toxiproxies toxiproxies;
  private ToxiproxyClient client;

  @BeforeEach
  void start() throws IOException {
    echo = LoopbackUpstream.echo();
    toxiproxies = Toxiproxies.start(42);
    client = toxiproxies.client();
  }

  @AfterEach
  void stop() throws IOException {
    try {
      toxiproxies.close();
    } finally {
      echo.close();
    }
  }

  private String upstream() {
    return "127.0.0.1:" + echo.address().getPort();
  }

  @Test
  void versionIsReported() throws IOException {
    assertThat(client.version()).isNotBlank();
  }

  @Test
  void createdProxyIsListedAndShownAndRelays() throws IOException {
    Proxy proxy = toxiproxies.proxy("api-create", upstream());

    assertThat(proxy.getName()).isEqualTo("api-create");
    assertThat(proxy.getUpstream()).isEqualTo(upstream());
    assertThat(proxy.isEnabled()).isTrue();
    assertThat(toxiproxies.listenAddress(proxy).getPort()).isPositive();
    assertThat(client.getProxies()).extracting(Proxy::getName).contains("api-create");
    Proxy shown = client.getProxy("api-create");
    assertThat(shown.getListen()).isEqualTo(proxy.getListen());
    assertThat(shown.getUpstream()).isEqualTo(upstream());

    try (Socket socket = Wire.connect(toxiproxies.listenAddress(proxy))) {
      byte[] ping = "ping through the proxy".getBytes();
      socket.getOutputStream().write(ping);
      assertThat(Wire.readExactly(socket, ping.length, Duration.ofSeconds(5))).isEqualTo(ping);
    }
  }

  @Test
  void duplicateProxyNameIsRefusedWith409() throws IOException {
    Proxy first = toxiproxies.proxy("api-duplicate", upstream());

    assertThatThrownBy(() -> client.createProxy("api-duplicate", "127.0.0.1:0", upstream()))
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith("[409]");
    assertThat(client.getProxy("api-duplicate").getListen()).isEqualTo(first.getListen());
  }

  @Test
  void unknownProxyIs404() {
    assertThatThrownBy(() -> client.getProxy("api-no-such-proxy"))
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith("[404]");
    assertThat(client.getProxyOrNull("api-no-such-proxy")).isNull();
  }

  @Test
  void deletedProxyIsGoneAndStopsListening() throws IOException {
    Proxy proxy = toxiproxies.proxy("api-delete", upstream());
    var address = toxiproxies.listenAddress(proxy);
    Socket live = Wire.connect(address);

    proxy.delete();

    assertThat(client.getProxyOrNull("api-delete")).isNull();
    assertThat(client.getProxies()).extracting(Proxy::getName).doesNotContain("api-delete");
    assertThatThrownBy(() -> Wire.connect(address).close()).isInstanceOf(ConnectException.class);
    assertThat(Wire.readToEnd(live, Duration.ofSeconds(5)).bytes())
        .as("the live connection is closed")
        .isEmpty();
    live.close();
  }

  @Test
  void disableClosesConnectionsAndStopsListeningEnableListensAgain() throws IOException {
    Proxy proxy = toxiproxies.proxy("api-disable", upstream());
    var address = toxiproxies.listenAddress(proxy);
    try (Socket live = Wire.connect(address)) {
      assertThat(Wire.echoRoundTripMillis(live, new byte[] {1}, Duration.ofSeconds(5)))
          .isNotNegative();

      proxy.disable();

      assertThat(proxy.isEnabled()).isFalse();
      assertThat(client.getProxy("api-disable").isEnabled()).isFalse();
      assertThat(readToEndOrReset(live)).as("the live connection is closed by disable").isTrue();
      assertThatThrownBy(() -> Wire.connect(address).close()).isInstanceOf(ConnectException.class);
    }

    proxy.enable();

    assertThat(proxy.isEnabled()).isTrue();
    try (Socket again = Wire.connect(toxiproxies.listenAddress(proxy))) {
      assertThat(Wire.echoRoundTripMillis(again, new byte[] {2}, Duration.ofSeconds(5)))
          .isNotNegative();
    }
  }

  @Test
  void closingTheHandleDeletesItsProxiesAndClosesTheirConnections() throws IOException {
    Toxiproxies other = Toxiproxies.start(43);
    Proxy proxy = other.proxy("api-handle-close", upstream());
    var address = other.listenAddress(proxy);
    try (Socket live = Wire.connect(address)) {
      assertThat(Wire.echoRoundTripMillis(live, new byte[] {1}, Duration.ofSeconds(5)))
          .isNotNegative();

      other.close();

      assertThat(readToEndOrReset(live)).as("the live connection is closed").isTrue();
      assertThatThrownBy(() -> Wire.connect(address).close()).isInstanceOf(ConnectException.class);
    }
  }

  @Test
  void changedUpstreamAppliesToNewConnections() throws IOException {
    Proxy proxy = toxiproxies.proxy("api-upstream", upstream());
    try (LoopbackUpstream greeter =
        LoopbackUpstream.sending("hello from the new upstream".getBytes())) {
      String newUpstream = "127.0.0.1:" + greeter.address().getPort();

      proxy.setUpstream(newUpstream);

      assertThat(client.getProxy("api-upstream").getUpstream()).isEqualTo(newUpstream);
      try (Socket socket = Wire.connect(toxiproxies.listenAddress(proxy))) {
        assertThat(new String(Wire.readToEnd(socket, Duration.ofSeconds(5)).bytes()))
            .isEqualTo("hello from the new upstream");
      }
    }
  }

  @Test
  void resetRemovesToxicsAndEnablesProxies() throws IOException {
    Proxy proxy = toxiproxies.proxy("api-reset", upstream());
    proxy.toxics().latency("api-reset-latency", ToxicDirection.DOWNSTREAM, 1_000);
    proxy.disable();

    client.reset();

    Proxy after = client.getProxy("api-reset");
    assertThat(after.isEnabled()).isTrue();
    assertThat(after.toxics().getAll()).isEmpty();
  }

  @Test
  void toxicsAreCreatedListedShownUpdatedAndRemoved() throws IOException {
    Proxy proxy = toxiproxies.proxy("api-toxics", upstream());
    Latency latency = proxy.toxics().latency("api-latency", ToxicDirection.DOWNSTREAM, 100);
    Slicer slicer = proxy.toxics().slicer("api-slicer", ToxicDirection.UPSTREAM, 64, 10);

    assertThat(latency.getLatency()).isEqualTo(100);
    assertThat(latency.getToxicity()).isEqualTo(1f);
    assertThat(slicer.getStream()).isEqualTo(ToxicDirection.UPSTREAM);
    assertThat(proxy.toxics().getAll())
        .extracting(Toxic::getName)
        .containsExactlyInAnyOrder("api-latency", "api-slicer");

    latency.setLatency(250).setJitter(20);
    latency.setToxicity(0.5f);
    Latency shown = proxy.toxics().get("api-latency", Latency.class);
    assertThat(shown.getLatency()).isEqualTo(250);
    assertThat(shown.getJitter()).isEqualTo(20);
    assertThat(shown.getToxicity()).isEqualTo(0.5f);
    assertThat(shown.getStream()).isEqualTo(ToxicDirection.DOWNSTREAM);

    assertThatThrownBy(() -> proxy.toxics().latency("api-latency", ToxicDirection.UPSTREAM, 5))
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith("[409]");

    latency.remove();
    assertThat(proxy.toxics().getAll()).extracting(Toxic::getName).containsExactly("api-slicer");
    assertThatThrownBy(() -> proxy.toxics().get("api-latency"))
        .isInstanceOf(IOException.class)
        .hasMessageStartingWith("[404]");
  }

  @Test
  void badToxicRequestsAre400() throws Exception {
    toxiproxies.proxy("api-bad-toxics", upstream());
    String toxics = toxiproxies.url() + "/proxies/api-bad-toxics/toxics";

    for (String body :
        List.of(
            "{\"type\":\"latency\",\"attributes\":{\"latency\":\"slow\"}}",
            "{\"type\":\"latency\",\"attributes\":{\"latency\":1.5}}",
            "{\"type\":\"no_such_toxic\"}",
            "{\"type\":\"latency\",\"stream\":\"sideways\"}",
            "not json")) {
      HttpResponse<String> response = post(toxics, body);
      assertThat(response.statusCode()).as("POST %s", body).isEqualTo(400);
      assertThat(response.body()).as("POST %s", body).contains("\"error\"");
    }
    assertThat(toxiproxies.client().getProxy("api-bad-toxics").toxics().getAll())
        .as("no toxic was created by a bad request")
        .isEmpty();
  }

  @Test
  void toxicOnUnknownProxyIs404() throws Exception {
    HttpResponse<String> response =
        post(toxiproxies.url() + "/proxies/api-missing/toxics", "{\"type\":\"latency\"}");

    assertThat(response.statusCode()).isEqualTo(404);
    assertThat(response.body()).contains("\"error\"").contains("404");
  }

  private static HttpResponse<String> post(String url, String body)
      throws IOException, InterruptedException {
    try (HttpClient http = HttpClient.newHttpClient()) {
      HttpRequest request =
          HttpRequest.newBuilder(URI.create(url))
              .timeout(Duration.ofSeconds(5))
              .header("Content-Type", "application/json")
              .POST(HttpRequest.BodyPublishers.ofString(body))
              .build();
      return http.send(request, HttpResponse.BodyHandlers.ofString());
    }
  }

  /** True when the peer closed (EOF) or reset the connection within a few seconds. */
  private static boolean readToEndOrReset(Socket socket) throws IOException {
    try {
      Wire.readToEnd(socket, Duration.ofSeconds(5));
      return true;
    } catch (java.net.SocketException reset) {
      return true; // a timeout is a SocketTimeoutException, not a SocketException: it propagates
    }
  }
}
