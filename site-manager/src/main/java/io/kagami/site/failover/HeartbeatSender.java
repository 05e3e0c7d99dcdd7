package io.kagami.site.failover;

import io.kagami.failover.heartbeat.Heartbeat;
import io.kagami.site.config.HostPort;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The second heartbeat path, outbound: {@code POST /heartbeat} with this site's heartbeat to the
 * peer's admin port, whose answer is the peer's heartbeat ({@link HeartbeatMessage}), so one
 * request carries both directions. The inbound half is the admin endpoint ({@link
 * FailoverController#heartbeat(byte[])}).
 *
 * <p>{@link #send()} is called every heartbeat interval on the {@code kagami-failover} thread and
 * never blocks it: the request is asynchronous, completes on the HTTP client's threads, and hands
 * the peer's heartbeat to {@code heard}. At most one request is in flight; a send while one is
 * still out is skipped (a peer that answers slowly is not flooded). Each request is bounded by
 * twice the heartbeat interval. The last failure is kept for the status. Holds an {@link
 * HttpClient} from {@link #start()} to {@link #close()}; without a peer admin address it does
 * nothing.
 */
final class HeartbeatSender implements AutoCloseable {
  private final HostPort peerAdmin;
  private final java.nio.file.Path peerCertificate;
  private final Duration timeout;
  private final Supplier<Heartbeat> own;
  private final Consumer<Heartbeat> heard;
  private volatile HttpClient http;
  private volatile CompletableFuture<?> inFlight = CompletableFuture.completedFuture(null);
  private volatile String lastError;

  /**
   * @param peerAdmin the peer's admin address, or null (no second path)
   * @param peerCertificate what the peer's admin port presents (or its CA), PEM: HTTPS; null: plain
   *     HTTP (a loopback peer only)
   * @param timeout bound of one request
   * @param own this site's heartbeat now
   * @param heard takes the peer's heartbeat; throws IllegalArgumentException when it is not the
   *     peer's
   */
  HeartbeatSender(
      HostPort peerAdmin,
      java.nio.file.Path peerCertificate,
      Duration timeout,
      Supplier<Heartbeat> own,
      Consumer<Heartbeat> heard) {
    this.peerAdmin = peerAdmin;
    this.peerCertificate = peerCertificate;
    this.timeout = timeout;
    this.own = own;
    this.heard = heard;
  }

  void start() {
    if (peerAdmin != null) {
      HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(timeout);
      if (peerCertificate != null) {
        javax.net.ssl.SSLContext tls = io.kagami.site.auth.HttpTls.client(peerCertificate);
        b.sslContext(tls).sslParameters(io.kagami.site.auth.HttpTls.parameters(tls));
      }
      http = b.build();
    }
  }

  /** Sends one heartbeat unless the previous one is still in flight. */
  void send() {
    HttpClient client = http;
    if (client == null || !inFlight.isDone()) {
      return;
    }
    String target = (peerCertificate == null ? "http://" : "https://") + peerAdmin + "/heartbeat";
    HttpRequest req =
        HttpRequest.newBuilder(URI.create(target))
            .timeout(timeout)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(HeartbeatMessage.encode(own.get())))
            .build();
    inFlight =
        client
            .sendAsync(req, HttpResponse.BodyHandlers.ofByteArray())
            .handle(
                (r, failure) -> {
                  try {
                    if (failure != null) {
                      throw ioCause(failure);
                    }
                    if (r.statusCode() != 200) {
                      throw new IOException(
                          "HTTP "
                              + r.statusCode()
                              + ": "
                              + new String(r.body(), StandardCharsets.UTF_8).strip());
                    }
                    heard.accept(HeartbeatMessage.decode(r.body()));
                    lastError = null;
                  } catch (IOException | IllegalArgumentException e) {
                    io.kagami.site.auth.HttpTls.Untrusted u =
                        io.kagami.site.auth.HttpTls.untrusted(e);
                    lastError =
                        "POST "
                            + target
                            + ": "
                            + (u != null ? "the peer presented " + u.getMessage() : e.toString());
                  }
                  return null;
                });
  }

  /** The request's failure: an IOException (timeout, refused, reset), else rethrown as it is. */
  private static IOException ioCause(Throwable failure) {
    Throwable t =
        failure instanceof CompletionException && failure.getCause() != null
            ? failure.getCause()
            : failure;
    if (t instanceof IOException io) {
      return io;
    }
    throw t instanceof RuntimeException re ? re : new CompletionException(t);
  }

  /** The request sent last: done once its answer (or failure) is recorded. */
  CompletableFuture<?> lastRequest() {
    return inFlight;
  }

  /** Why the last heartbeat got no valid answer, or null when it did. */
  String lastError() {
    return lastError;
  }

  /** Cancels a heartbeat in flight and closes the client. */
  @Override
  public void close() {
    HttpClient client = http;
    if (client != null) {
      client.shutdownNow();
      client.close();
    }
  }
}
