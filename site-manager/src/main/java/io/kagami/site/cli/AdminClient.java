package io.kagami.site.cli;

import io.kagami.site.auth.BearerToken;
import io.kagami.site.admin.AdminToken;
import io.kagami.site.config.HostPort;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The CLI's HTTP calls to a site's admin port, with the operator-facing error messages in one place. */
final class AdminClient {
  private AdminClient() {}

  /** True when {@code host} names this machine (loopback, the wildcard, or one of its interfaces' addresses). */
  static boolean isThisMachine(String host) {
    try {
      InetAddress a = InetAddress.getByName(host);
      return a.isAnyLocalAddress() || a.isLoopbackAddress() || NetworkInterface.getByInetAddress(a) != null;
    } catch (IOException e) {
      return false;
    }
  }

  /** True when a site answers at {@code admin} (its {@code /health}). */
  static boolean answers(HostPort admin) throws InterruptedException {
    String host = admin.host().equals("0.0.0.0") ? "127.0.0.1" : admin.host();
    try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
      HttpResponse<String> r =
          http.send(HttpRequest.newBuilder(java.net.URI.create("http://" + host + ":" + admin.port() + "/health")).timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * The response, or null after printing why there is none (no site answering, or not HTTP 200).
   * Carries the site's admin token when one is found ({@link AdminToken#forClient}).
   */
  static HttpResponse<String> send(HostPort admin, HttpRequest.Builder request) throws IOException, InterruptedException {
    BearerToken token;
    try {
      token = AdminToken.forClient(System.getenv(), admin.port(), isThisMachine(admin.host()));
    } catch (IllegalStateException e) {
      System.err.println("kagami: " + e.getMessage());
      return null;
    }
    if (token != null) {
      request.header("Authorization", token.header());
    }
    HttpResponse<String> r;
    try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
      r = http.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    } catch (ConnectException e) {
      System.err.println("kagami: no site answers at " + admin + " (is it running? is --admin right?)");
      return null;
    }
    if (r.statusCode() == 401) {
      System.err.println("kagami: " + admin + " refused the request (HTTP 401): " + r.body().strip());
      System.err.println(
          "kagami: "
              + (token == null
                  ? "no admin token found: run this as the user running the site, on its machine, or set KAGAMI_ADMIN_TOKEN_FILE to the site's admin.token"
                  : "the token presented is not this site's: check KAGAMI_ADMIN_TOKEN / KAGAMI_ADMIN_TOKEN_FILE"));
      return null;
    }
    if (r.statusCode() != 200) {
      System.err.println("kagami: " + admin + " answered HTTP " + r.statusCode() + ": " + r.body().strip());
      return null;
    }
    return r;
  }
}
