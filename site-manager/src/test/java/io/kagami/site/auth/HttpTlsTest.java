package io.kagami.site.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.site.admin.HttpEndpoint;
import io.kagami.wan.tls.SiteCredentials;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** An HTTPS endpoint with a site's certificate, and clients that trust it or not. */
class HttpTlsTest {
  @TempDir Path dir;

  private static String get(HttpEndpoint server, SSLContext trust) throws Exception {
    try (HttpClient c =
        HttpClient.newBuilder()
            .sslContext(trust)
            .sslParameters(HttpTls.parameters(trust))
            .build()) {
      return c.send(
              HttpRequest.newBuilder(
                      URI.create("https://127.0.0.1:" + server.address().getPort() + "/x"))
                  .build(),
              HttpResponse.BodyHandlers.ofString())
          .body();
    }
  }

  @Test
  void aClientTrustsTheSitesOwnCertificateWithoutAHostNameCheckAndRefusesAnyOther()
      throws Exception {
    SiteCredentials tokyo = SiteCredentials.loadOrCreate(dir.resolve("tokyo"), "tokyo");
    SiteCredentials other = SiteCredentials.loadOrCreate(dir.resolve("other"), "other");
    try (HttpEndpoint server =
        HttpEndpoint.start(
            new InetSocketAddress("127.0.0.1", 0),
            ex -> {
              byte[] b = "ok".getBytes(StandardCharsets.US_ASCII);
              ex.sendResponseHeaders(200, b.length);
              ex.getResponseBody().write(b);
              ex.close();
            },
            HttpTls.server(tokyo))) {
      assertThat(server.scheme()).isEqualTo("https");
      assertThat(get(server, HttpTls.client(tokyo.certificateFile())))
          .as("CN=tokyo is no host name, and is trusted as pinned")
          .isEqualTo("ok");
      assertThatThrownBy(() -> get(server, HttpTls.client(other.certificateFile())))
          .satisfies(
              e -> {
                HttpTls.Untrusted u = HttpTls.untrusted(e);
                assertThat(u).as("the refusal names the certificate presented").isNotNull();
                assertThat(u.getMessage())
                    .startsWith("CN=tokyo (SHA-256 ")
                    .endsWith("is not signed by " + other.certificateFile());
                assertThat(u.presented()).isEqualTo(tokyo.certificate());
              });
    }
  }
}
