package io.kagami.site.witness;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.failover.witness.LeaseReply;
import io.kagami.failover.witness.LeaseRequest;
import io.kagami.site.auth.BearerToken;
import io.kagami.site.auth.HttpTls;
import io.kagami.site.config.HostPort;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import javax.net.ssl.SSLContext;

/**
 * A site's connection to the witness: renew, claim, release, status over HTTP or HTTPS (the JSON of
 * {@link WitnessServer}). Every request is bounded by {@code timeout}. The {@code ...Async} forms
 * never block: they complete on the HTTP client's threads, exceptionally with an {@link
 * IOException} when the witness cannot be reached or answers badly; "refused" is a normal {@link
 * LeaseReply}, not an error. The blocking forms wait for the same future. Callers record the
 * instant they <em>sent</em> a request and hand it to the policy with the reply. Holds an {@link
 * HttpClient} (its sockets and threads) until {@link #close()}.
 */
public final class WitnessClient implements LeaseService {
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
    this(hostPort, null, timeout, token);
  }

  /**
   * Over HTTPS when {@code tls} is given (a client context that trusts the witness's certificate,
   * {@link io.kagami.site.auth.HttpTls#client}), plain HTTP otherwise, which is allowed with a
   * token only to a loopback address.
   *
   * @throws IllegalArgumentException when a token would go over plain HTTP to another machine
   */
  public WitnessClient(String hostPort, SSLContext tls, Duration timeout, BearerToken token) {
    this.base = URI.create((tls == null ? "http://" : "https://") + hostPort);
    if (tls == null && token != null && !HostPort.parse(hostPort).isLoopback()) {
      throw new IllegalArgumentException(
          "refusing to send the witness token over plain HTTP to "
              + hostPort
              + ", which is not a loopback address: the witness must speak TLS there (kagami witness --tls-dir)");
    }
    this.timeout = timeout;
    this.token = token;
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(timeout);
    if (tls != null) {
      b.sslContext(tls).sslParameters(HttpTls.parameters(tls));
    }
    this.http = b.build();
  }

  public LeaseReply renew(String group, String site, long term)
      throws IOException, InterruptedException {
    return await(renewAsync(group, site, term));
  }

  public LeaseReply claim(String group, String site, long knownTerm)
      throws IOException, InterruptedException {
    return await(claimAsync(group, site, knownTerm));
  }

  public LeaseReply release(String group, String site, long term)
      throws IOException, InterruptedException {
    return await(releaseAsync(group, site, term));
  }

  @Override
  public CompletableFuture<LeaseReply> renewAsync(String group, String site, long term) {
    return post("/v1/renew", new LeaseRequest(group, site, term));
  }

  @Override
  public CompletableFuture<LeaseReply> claimAsync(String group, String site, long knownTerm) {
    return post("/v1/claim", new LeaseRequest(group, site, knownTerm));
  }

  @Override
  public CompletableFuture<LeaseReply> releaseAsync(String group, String site, long term) {
    return post("/v1/release", new LeaseRequest(group, site, term));
  }

  /** The witness's {@code GET /v1/status} document. */
  public JsonNode status() throws IOException, InterruptedException {
    HttpResponse<String> r =
        http.send(
            HttpRequest.newBuilder(base.resolve("/v1/status")).timeout(timeout).GET().build(),
            HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) {
      throw new IOException(
          "witness " + base + " answered HTTP " + r.statusCode() + ": " + r.body());
    }
    return WitnessServer.JSON.readTree(r.body());
  }

  private CompletableFuture<LeaseReply> post(String path, LeaseRequest body) {
    HttpRequest.Builder req;
    try {
      req =
          HttpRequest.newBuilder(base.resolve(path))
              .timeout(timeout)
              .header("Content-Type", "application/json")
              .POST(
                  HttpRequest.BodyPublishers.ofByteArray(
                      WitnessServer.JSON.writeValueAsBytes(body)));
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
    if (token != null) {
      req.header("Authorization", token.header());
    }
    return http.sendAsync(req.build(), HttpResponse.BodyHandlers.ofString())
        .thenApply(
            r -> {
              try {
                if (r.statusCode() != 200) {
                  throw new IOException(
                      "witness "
                          + base
                          + path
                          + " answered HTTP "
                          + r.statusCode()
                          + ": "
                          + r.body());
                }
                return WitnessServer.JSON.readValue(r.body(), LeaseReply.class);
              } catch (IOException e) {
                throw new CompletionException(e);
              }
            });
  }

  /** The reply, or the request's IOException; a cancelled wait cancels the request. */
  private static LeaseReply await(CompletableFuture<LeaseReply> reply)
      throws IOException, InterruptedException {
    try {
      return reply.get();
    } catch (InterruptedException e) {
      reply.cancel(true);
      throw e;
    } catch (ExecutionException e) {
      throw asIOException(e.getCause());
    }
  }

  /**
   * The cause of a failed request as an {@link IOException} (unwrapping {@link CompletionException}
   * layers); an unexpected runtime failure is rethrown as it is.
   */
  public static IOException asIOException(Throwable failure) {
    Throwable t = failure;
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    if (t instanceof IOException io) {
      return io;
    }
    if (t instanceof RuntimeException re) {
      throw re;
    }
    if (t instanceof Error err) {
      throw err;
    }
    return new IOException(t);
  }

  @Override
  public String describe() {
    return base.getAuthority();
  }

  /** Cancels requests in flight (their futures fail) and closes the client. */
  @Override
  public void close() {
    http.shutdownNow();
    http.close();
  }
}
