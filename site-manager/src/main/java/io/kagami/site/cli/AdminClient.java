package io.kagami.site.cli;

import io.kagami.site.config.HostPort;
import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The CLI's HTTP calls to a site's admin port, with the operator-facing error messages in one place. */
final class AdminClient {
  private AdminClient() {}

  /** The response, or null after printing why there is none (no site answering, or not HTTP 200). */
  static HttpResponse<String> send(HostPort admin, HttpRequest.Builder request) throws IOException, InterruptedException {
    HttpResponse<String> r;
    try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
      r = http.send(request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    } catch (ConnectException e) {
      System.err.println("kagami: no site answers at " + admin + " (is it running? is --admin right?)");
      return null;
    }
    if (r.statusCode() != 200) {
      System.err.println("kagami: " + admin + " answered HTTP " + r.statusCode() + ": " + r.body().strip());
      return null;
    }
    return r;
  }
}
