package io.kagami.failover.witness;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.failover.auth.BearerToken;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * A site's connection to the witness: renew, claim, release, status. Each call blocks for at most
 * {@code timeout} and throws {@link IOException} when the witness cannot be reached or answers
 * badly; "refused" is a normal {@link LeaseReply}, not an exception. Callers record the instant
 * they <em>sent</em> a request and hand it to the policy with the reply.
 */
public final class WitnessClient implements AutoCloseable {
  private final URI base;
  private final Duration timeout;
  private final HttpClient http;
  private final BearerToken token;

  /** {@code host:port} of the witness. */
  public WitnessClient(String hostPort, Duration timeout) {
    this(hostPort, timeout, null);
  }

  /** {@code token}: the witness's token, carried by every lease request; null: none. */
  public WitnessClient(String hostPort, Duration timeout, BearerToken token) {
    this.base = URI.create("http://" + hostPort);
    this.timeout = timeout;
    this.token = token;
    this.http = HttpClient.newBuilder().connectTimeout(timeout).build();
  }

  public LeaseReply renew(String group, String site, long term) throws IOException, InterruptedException {
    return post("/v1/renew", new LeaseRequest(group, site, term));
  }

  public LeaseReply claim(String group, String site, long knownTerm) throws IOException, InterruptedException {
    return post("/v1/claim", new LeaseRequest(group, site, knownTerm));
  }

  public LeaseReply release(String group, String site, long term) throws IOException, InterruptedException {
    return post("/v1/release", new LeaseRequest(group, site, term));
  }

  /** The witness's {@code GET /v1/status} document. */
  public JsonNode status() throws IOException, InterruptedException {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/v1/status")).timeout(timeout).GET().build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IOException("witness " + base + " answered HTTP " + r.statusCode() + ": " + r.body());
    }
    return WitnessServer.JSON.readTree(r.body());
  }

  private LeaseReply post(String path, LeaseRequest body) throws IOException, InterruptedException {
    HttpRequest.Builder req = HttpRequest.newBuilder(base.resolve(path))
        .timeout(timeout)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(WitnessServer.JSON.writeValueAsBytes(body)));
    if (token != null) {
      req.header("Authorization", token.header());
    }
    HttpResponse<String> r = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IOException("witness " + base + path + " answered HTTP " + r.statusCode() + ": " + r.body());
    }
    return WitnessServer.JSON.readValue(r.body(), LeaseReply.class);
  }

  @Override
  public void close() {
    http.close();
  }
}
