package io.kagami.site.admin;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.site.config.HostPort;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /heartbeat} and {@code /maintenance} on the admin port, against a stand-in
 * controller.
 */
class FailoverEndpointsTest {
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private AdminServer server;
  private boolean maintenance;
  private String lastHeartbeat;

  private final FailoverControl control =
      new FailoverControl() {
        @Override
        public byte[] heartbeat(byte[] body) {
          lastHeartbeat = new String(body, StandardCharsets.UTF_8);
          if (lastHeartbeat.contains("intruder")) {
            throw new IllegalArgumentException(
                "heartbeat from site \"intruder\", but this site's peer is \"hiroshima\"");
          }
          return "{\"siteId\":\"tokyo\"}".getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public Object maintenance(Boolean on) {
          if (on != null) {
            maintenance = on;
          }
          return Map.of("siteId", "tokyo", "maintenance", maintenance);
        }
      };

  private AdminServer start(FailoverControl c) {
    server = new AdminServer(new HostPort("127.0.0.1", 0), () -> null, null);
    if (c != null) {
      server.failover(c);
    }
    server.start();
    return server;
  }

  @AfterEach
  void stop() {
    http.close();
    server.close();
  }

  private HttpResponse<String> send(String method, String path, String body) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body))
            .timeout(Duration.ofSeconds(5))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void heartbeatsGoInAndTheOwnComesBack() throws Exception {
    start(control);
    HttpResponse<String> r = send("POST", "/heartbeat", "{\"siteId\":\"hiroshima\"}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).contains("\"siteId\":\"tokyo\"");
    assertThat(lastHeartbeat).contains("hiroshima");
    HttpResponse<String> bad = send("POST", "/heartbeat", "{\"siteId\":\"intruder\"}");
    assertThat(bad.statusCode()).isEqualTo(400);
    assertThat(bad.body()).contains("this site's peer is");
    assertThat(send("GET", "/heartbeat", null).statusCode()).isEqualTo(405);
  }

  @Test
  void maintenanceIsSetClearedAndShown() throws Exception {
    start(control);
    assertThat(send("PUT", "/maintenance", null).body()).contains("\"maintenance\" : true");
    assertThat(maintenance).isTrue();
    assertThat(send("GET", "/maintenance", null).body()).contains("\"maintenance\" : true");
    assertThat(send("DELETE", "/maintenance", null).body()).contains("\"maintenance\" : false");
    assertThat(send("POST", "/maintenance", null).statusCode()).isEqualTo(405);
  }

  @Test
  void withoutAFailoverSectionBothSayWhy() throws Exception {
    start(null);
    HttpResponse<String> r = send("PUT", "/maintenance", null);
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(r.body()).contains("no failover section");
    assertThat(send("POST", "/heartbeat", "{}").statusCode()).isEqualTo(404);
  }
}
