package io.kagami.site.witness;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import io.kagami.failover.witness.LeaseReply;
import io.kagami.failover.witness.LeaseRequest;
import io.kagami.failover.witness.WitnessState;
import io.kagami.site.admin.HttpEndpoint;
import io.kagami.site.auth.BearerToken;
import io.kagami.site.auth.RefusalLog;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.TreeMap;

/**
 * The witness as a small HTTP service around {@link WitnessState} (JDK HttpServer, JSON), over
 * HTTPS when given a TLS context ({@code kagami witness --tls-dir}; plain HTTP only on loopback).
 *
 * <table>
 *   <caption>Endpoints</caption>
 *   <tr><th>request</th><th>body</th><th>answer</th></tr>
 *   <tr><td>POST /v1/renew</td><td>{@link LeaseRequest}</td><td>{@link LeaseReply} (200 either way; see {@code granted})</td></tr>
 *   <tr><td>POST /v1/claim</td><td>{@link LeaseRequest}</td><td>{@link LeaseReply}</td></tr>
 *   <tr><td>POST /v1/release</td><td>{@link LeaseRequest}</td><td>{@link LeaseReply}</td></tr>
 *   <tr><td>GET /v1/status</td><td></td><td>{@code {"version":1,"leaseMillis":..,"groups":{id:{holder,term,remainingMillis,released}}}}</td></tr>
 * </table>
 *
 * Malformed requests get 400 with {@code {"error": ...}}; unknown paths 404; wrong methods 405.
 * Requests run on virtual threads; the state's lock orders them.
 *
 * <p>With a token ({@code kagami witness --token-file}), the POST endpoints answer 401 unless the
 * request carries it ({@code Authorization: Bearer}): otherwise anyone who reaches the port could
 * release the primary's lease or claim it. {@code GET /v1/status} stays open for monitoring.
 */
public final class WitnessServer implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(WitnessServer.class.getName());

  /** Refused requests, logged within a per-address limit so a flood cannot fill the log. */
  private final RefusalLog refusals = new RefusalLog(LOG);

  static final ObjectMapper JSON = new ObjectMapper();

  private final InetSocketAddress listen;
  private final WitnessState state;
  private final BearerToken token;
  private final javax.net.ssl.SSLContext tls;
  private HttpEndpoint http;

  /**
   * A witness that anyone reaching {@code listen} may ask (tests; see {@link
   * #WitnessServer(InetSocketAddress, WitnessState, BearerToken)}).
   */
  public WitnessServer(InetSocketAddress listen, WitnessState state) {
    this(listen, state, null);
  }

  /** {@code token}: what lease requests must carry; null: none. */
  public WitnessServer(InetSocketAddress listen, WitnessState state, BearerToken token) {
    this(listen, state, token, null);
  }

  /** {@code tls}: serve HTTPS with it ({@link io.kagami.site.auth.HttpTls#server}); null: HTTP. */
  public WitnessServer(
      InetSocketAddress listen,
      WitnessState state,
      BearerToken token,
      javax.net.ssl.SSLContext tls) {
    this.listen = listen;
    this.state = state;
    this.token = token;
    this.tls = tls;
  }

  public synchronized void start() {
    if (http != null) {
      throw new IllegalStateException("witness already started");
    }
    try {
      http = HttpEndpoint.start(listen, this::handle, tls);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "witness: cannot listen on " + listen + ": " + e.getMessage(), e);
    }
  }

  /** The bound address (the real port when started on port 0). */
  public synchronized InetSocketAddress address() {
    if (http == null) {
      throw new IllegalStateException("witness not started");
    }
    return http.address();
  }

  private record Response(int code, Object body) {}

  private void handle(HttpExchange ex) throws IOException {
    try (ex) {
      Response r;
      try {
        r = respond(ex);
      } catch (IllegalArgumentException | JsonProcessingException e) {
        r = new Response(400, Map.of("error", "bad request: " + e.getMessage()));
      } catch (RuntimeException e) {
        r = new Response(500, Map.of("error", String.valueOf(e.getMessage())));
      }
      byte[] body = JSON.writeValueAsBytes(r.body());
      ex.getResponseHeaders().set("Content-Type", "application/json");
      ex.sendResponseHeaders(r.code(), body.length);
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    }
  }

  private Response respond(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String method = ex.getRequestMethod();
    if (path.equals("/v1/status")) {
      return method.equals("GET") ? new Response(200, status()) : notAllowed(method, path);
    }
    if (!path.equals("/v1/renew") && !path.equals("/v1/claim") && !path.equals("/v1/release")) {
      return new Response(
          404,
          Map.of(
              "error",
              "no such endpoint "
                  + path
                  + " (POST /v1/renew, /v1/claim, /v1/release; GET /v1/status)"));
    }
    if (!method.equals("POST")) {
      return notAllowed(method, path);
    }
    if (token != null && !token.accepts(ex.getRequestHeaders().getFirst("Authorization"))) {
      refusals.warn(
          ex.getRemoteAddress(),
          "witness: "
              + path
              + " from "
              + ex.getRemoteAddress()
              + " refused: "
              + (ex.getRequestHeaders().containsKey("Authorization") ? "wrong token" : "no token"));
      return new Response(
          401,
          Map.of(
              "error",
              "this witness needs its token (Authorization: Bearer TOKEN): copy the file given to `kagami witness --token-file` to each site and name it in failover.witnessTokenFile"));
    }
    LeaseRequest req = JSON.readValue(ex.getRequestBody(), LeaseRequest.class);
    LeaseReply reply =
        switch (path) {
          case "/v1/renew" -> state.renew(req);
          case "/v1/claim" -> state.claim(req);
          default -> state.release(req);
        };
    return new Response(200, reply);
  }

  private Map<String, Object> status() {
    Map<String, Object> groups = new TreeMap<>();
    java.time.Instant now = state.now();
    for (WitnessState.Lease l : state.all().values()) {
      groups.put(
          l.group(),
          Map.of(
              "holder", l.holder(),
              "term", l.term(),
              "released", l.released(),
              "remainingMillis",
                  Math.max(0, java.time.Duration.between(now, l.expiresAt()).toMillis())));
    }
    return Map.of("version", 1, "leaseMillis", state.lease().toMillis(), "groups", groups);
  }

  private static Response notAllowed(String method, String path) {
    return new Response(405, Map.of("error", "method " + method + " is not allowed on " + path));
  }

  @Override
  public synchronized void close() {
    if (http != null) {
      http.close();
      http = null;
    }
  }
}
