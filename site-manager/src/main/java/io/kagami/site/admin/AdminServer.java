package io.kagami.site.admin;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.sun.net.httpserver.HttpExchange;
import io.kagami.site.auth.BearerToken;
import io.kagami.site.auth.RefusalLog;
import io.kagami.site.config.Bandwidth;
import io.kagami.site.config.HostPort;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The site's HTTP surface for operators and tools: {@code GET /status} (JSON), {@code GET /metrics}
 * (Prometheus text format), {@code GET /health} (503 while a volume is disk-full), and on a primary
 * the link's bandwidth cap: {@code GET /link}, {@code PUT /link} with {@code {"bandwidth":
 * "1500KB"}} (a runtime override; {@code "unlimited"} or 0 for none; {@code null} clears it),
 * {@code DELETE /link} (clears it), and the read-only views a site adds with {@link #view} ({@code
 * GET /recover/plan}). Requests run on virtual threads; a failing handler answers 500 with the
 * reason and the server goes on. A slow or idle client is closed by the limits in {@link
 * HttpLimits}.
 *
 * <p>With a token set ({@link AdminToken}), every request other than {@code GET}/{@code HEAD} (and
 * the peer's {@code POST /heartbeat}) must carry it, or is answered 401 and logged without running.
 *
 * <p>One role: routing. Each route parses its request and hands it to the part of the site that
 * owns the answer (status view, metrics, link control); its length is the list of routes.
 */
public final class AdminServer implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(AdminServer.class.getName());

  /** Refused requests, logged within a per-address limit so a flood cannot fill the log. */
  private final RefusalLog refusals = new RefusalLog(LOG);

  /**
   * Strict: a body with anything after its JSON value (trailing garbage) is refused, not half-read.
   */
  public static final ObjectMapper JSON =
      new ObjectMapper()
          .enable(SerializationFeature.INDENT_OUTPUT)
          .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

  private final HostPort listen;
  private final Supplier<SiteStatus> status;
  private final Supplier<String> metrics;
  private final LinkControl link;
  private final java.util.function.Function<Boolean, ?> promote;
  private final Map<String, Action> actions = new java.util.concurrent.ConcurrentHashMap<>();
  private final Map<String, Supplier<?>> views = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * A {@code POST} endpoint that changes the site: given the request's JSON body (an empty object
   * when there is none), does the work and returns what to report, or throws {@link
   * io.kagami.site.Promotion.RefusedException} with the reason (answered 409, nothing changed).
   */
  @FunctionalInterface
  public interface Action {
    Object run(JsonNode body) throws Exception;
  }

  private HttpEndpoint http;
  private volatile FailoverControl failover;

  /** Requests that change the site must carry it; null: none needed (tests of the handlers). */
  private volatile BearerToken token;

  /**
   * DR drills and point-in-time promotion ({@code /drill}, {@code /promote} with a seq or time);
   * null: none.
   */
  private volatile DrillControl drills;

  private volatile PeerPromoteControl peerPromote;

  /** HTTPS with this context; null: plain HTTP (a loopback address only, see ConfigLoader). */
  private javax.net.ssl.SSLContext tls;

  /** {@code metrics} null: collection is off and {@code GET /metrics} answers 404 saying so. */
  public AdminServer(HostPort listen, Supplier<SiteStatus> status, Supplier<String> metrics) {
    this(listen, status, metrics, null);
  }

  /** {@code link} is null on a standby: the cap belongs to the sending side. */
  public AdminServer(
      HostPort listen, Supplier<SiteStatus> status, Supplier<String> metrics, LinkControl link) {
    this(listen, status, metrics, link, null);
  }

  /**
   * {@code promote}, given "force", promotes the site and returns what to report, or throws {@link
   * io.kagami.site.Promotion.RefusedException} with the reason; null: no {@code /promote}.
   */
  public AdminServer(
      HostPort listen,
      Supplier<SiteStatus> status,
      Supplier<String> metrics,
      LinkControl link,
      java.util.function.Function<Boolean, ?> promote) {
    this.promote = promote;
    this.listen = listen;
    this.status = status;
    this.metrics = metrics;
    this.link = link;
  }

  /** Adds {@code POST path}; call before {@link #start()}. */
  public AdminServer action(String path, Action action) {
    actions.put(path, action);
    return this;
  }

  /**
   * Adds {@code GET path}, answered with what {@code view} returns as JSON (it must change
   * nothing); call before {@link #start()}.
   */
  public AdminServer view(String path, Supplier<?> view) {
    views.put(path, view);
    return this;
  }

  /**
   * Serves {@code POST /heartbeat} and {@code GET/PUT/DELETE /maintenance} through {@code control}
   * (a site with a {@code failover:} section); without it both answer 404 saying so.
   */
  public void failover(FailoverControl control) {
    this.failover = control;
  }

  /**
   * Requires {@code token} on every request that changes the site; call before {@link #start()}.
   */
  public AdminServer token(BearerToken token) {
    this.token = token;
    return this;
  }

  /**
   * Serves {@code POST /promote?peer=NAME} (an N:1 standby promotes one primary's volumes) through
   * {@code control}; without it such a request answers 404 saying so.
   */
  public void peerPromotion(PeerPromoteControl control) {
    this.peerPromote = control;
  }

  /** Serves {@code /drill} and point-in-time {@code /promote} through {@code control}. */
  public void drills(DrillControl control) {
    this.drills = control;
  }

  /** Serves HTTPS with {@code tls} instead of plain HTTP; call before {@link #start()}. */
  public AdminServer tls(javax.net.ssl.SSLContext tls) {
    this.tls = tls;
    return this;
  }

  public void start() {
    try {
      http =
          HttpEndpoint.start(
              new InetSocketAddress(listen.host(), listen.port()), this::handle, tls);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot listen for admin HTTP on " + listen + ": " + e.getMessage(), e);
    }
  }

  /** {@code https} or {@code http}: how the port is reached. */
  public String scheme() {
    return http.scheme();
  }

  /** The bound port (useful when configured with port 0). */
  public int port() {
    return http.address().getPort();
  }

  private record Response(int code, String type, byte[] body) {}

  /** Answers one request; package-private for the fuzz target that drives it without a socket. */
  void handle(HttpExchange ex) throws IOException {
    try (ex) {
      Response r;
      try {
        r = refused(ex);
        if (r == null) {
          r =
              switch (ex.getRequestURI().getPath()) {
                case "/link" -> link(ex);
                case "/promote" -> promote(ex);
                case "/drill" -> drill(ex);
                case "/heartbeat", "/maintenance" -> failover(ex);
                default ->
                    actions.containsKey(ex.getRequestURI().getPath())
                        ? action(ex, actions.get(ex.getRequestURI().getPath()))
                        : respond(ex.getRequestMethod(), ex.getRequestURI().getPath());
              };
        }
      } catch (io.kagami.site.Promotion.RefusedException e) {
        r = new Response(409, "application/json", error(e.getMessage()));
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "admin request " + ex.getRequestURI() + " failed", e);
        r = new Response(500, "application/json", error(String.valueOf(e.getMessage())));
      }
      send(ex, r.code(), r.type(), r.body());
    }
  }

  /** Lines about refused requests dropped by the per-address log limit since start. */
  public long droppedLogLines() {
    return refusals.dropped();
  }

  /**
   * The answer to a request that changes the site without the site's token, or null when it may
   * run. The peer's heartbeat needs none: a forged one can only delay an automatic failover, never
   * start one.
   */
  private Response refused(HttpExchange ex) throws IOException {
    BearerToken t = token;
    String method = ex.getRequestMethod();
    String path = ex.getRequestURI().getPath();
    if (t == null
        || method.equals("GET")
        || method.equals("HEAD")
        || (method.equals("POST") && path.equals("/heartbeat"))) {
      return null;
    }
    String presented = ex.getRequestHeaders().getFirst("Authorization");
    if (t.accepts(presented)) {
      return null;
    }
    refusals.warn(
        ex.getRemoteAddress(),
        "admin request "
            + method
            + " "
            + path
            + " from "
            + ex.getRemoteAddress()
            + " refused: "
            + (presented == null ? "no admin token" : "wrong admin token"));
    ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"kagami\"");
    return new Response(
        401,
        "application/json",
        error(
            (presented == null
                    ? "this request changes the site: it needs the site's admin token"
                    : "wrong admin token")
                + " (header Authorization: Bearer TOKEN; the token is in the site's <dataDir>/admin.token or admin.tokenFile;"
                + " the kagami CLI finds it by itself when run by the same user on the site's machine, elsewhere set KAGAMI_ADMIN_TOKEN_FILE)"));
  }

  /**
   * 200 "ok" while the site can do its work; 503 naming each volume that cannot, with the reason,
   * while a filesystem it needs is full (state {@code disk-full}): a load balancer or a probe
   * should not treat that site as healthy.
   */
  private Response health() {
    StringBuilder bad = new StringBuilder();
    SiteStatus now = status.get();
    for (VolumeStatus v : now == null ? List.<VolumeStatus>of() : now.volumes()) {
      if (v.state() == io.kagami.site.VolumeState.DISK_FULL) {
        bad.append("disk-full: volume ")
            .append(v.name())
            .append(": ")
            .append(v.error())
            .append('\n');
      }
    }
    if (bad.isEmpty()) {
      return new Response(200, "text/plain", "ok\n".getBytes(StandardCharsets.UTF_8));
    }
    return new Response(503, "text/plain", bad.toString().getBytes(StandardCharsets.UTF_8));
  }

  private Response respond(String method, String path) throws IOException {
    if (!method.equals("GET") && !method.equals("HEAD")) {
      return new Response(
          405, "application/json", error("method " + method + " is not allowed on " + path));
    }
    return switch (path) {
      case "/status" -> new Response(200, "application/json", JSON.writeValueAsBytes(status.get()));
      case "/metrics" ->
          metrics == null
              ? new Response(
                  404,
                  "application/json",
                  error("metrics collection is off on this site (admin.metrics: false)"))
              : new Response(
                  200,
                  "text/plain; version=0.0.4; charset=utf-8",
                  metrics.get().getBytes(StandardCharsets.UTF_8));
      case "/health" -> health();
      default ->
          views.containsKey(path)
              ? new Response(200, "application/json", JSON.writeValueAsBytes(views.get(path).get()))
              : new Response(
                  404,
                  "application/json",
                  error("no such endpoint " + path + " (try /status, /metrics, /health or /link)"));
    };
  }

  private Response link(HttpExchange ex) throws IOException {
    String method = ex.getRequestMethod();
    if (link == null) {
      return new Response(
          409,
          "application/json",
          error(
              "this site is a standby: the WAN bandwidth cap is set on the primary (the sending side)"));
    }
    return switch (method) {
      case "GET", "HEAD" ->
          new Response(200, "application/json", JSON.writeValueAsBytes(link.bandwidth()));
      case "DELETE" ->
          new Response(200, "application/json", JSON.writeValueAsBytes(link.override(null)));
      case "PUT" -> {
        String usage =
            "the body must be JSON like {\"bandwidth\": \"1500KB\"} (KB = 1000 bytes, per second; \"unlimited\" for no cap; null to clear the override)";
        JsonNode body;
        try (InputStream in = ex.getRequestBody()) {
          body = readJson(in.readNBytes(64 << 10));
        } catch (JacksonException e) {
          yield new Response(
              400,
              "application/json",
              error("not valid JSON: " + e.getOriginalMessage() + "; " + usage));
        }
        if (body == null || !body.isObject() || !body.has("bandwidth")) {
          yield new Response(400, "application/json", error(usage));
        }
        JsonNode b = body.get("bandwidth");
        if (b.isNull()) {
          yield new Response(200, "application/json", JSON.writeValueAsBytes(link.override(null)));
        }
        long rate;
        try {
          rate = Bandwidth.parse(b.asText());
        } catch (IllegalArgumentException e) {
          yield new Response(400, "application/json", error("bandwidth: " + e.getMessage()));
        }
        yield new Response(200, "application/json", JSON.writeValueAsBytes(link.override(rate)));
      }
      default ->
          new Response(
              405,
              "application/json",
              error("method " + method + " is not allowed on /link (GET, PUT, DELETE)"));
    };
  }

  /**
   * {@code POST /promote} with an optional body {@code {"force": true}} (and {@code seq}, {@code
   * at}, {@code volume} for a point in time); {@code ?peer=NAME} promotes only that primary's
   * volumes of an N:1 standby.
   */
  private Response promote(HttpExchange ex) throws IOException {
    if (!ex.getRequestMethod().equals("POST")) {
      return new Response(
          405,
          "application/json",
          error("method " + ex.getRequestMethod() + " is not allowed on /promote (POST)"));
    }
    if (promote == null) {
      return new Response(404, "application/json", error("this site cannot be promoted"));
    }
    boolean force = false;
    JsonNode pointInTime = null;
    try (InputStream in = ex.getRequestBody()) {
      byte[] body = in.readNBytes(64 << 10);
      if (body.length > 0) {
        JsonNode n = readJson(body);
        if (n == null || !n.isObject() || (n.has("force") && !n.get("force").isBoolean())) {
          return new Response(
              400,
              "application/json",
              error("the body must be empty or JSON like {\"force\": true}"));
        }
        force = n.path("force").asBoolean(false);
        if (n.hasNonNull("seq") || n.hasNonNull("at")) {
          pointInTime = n;
        }
      }
    } catch (JacksonException e) {
      return new Response(
          400, "application/json", error("not valid JSON: " + e.getOriginalMessage()));
    }
    String peerName = queryValue(ex, "peer");
    if (peerName != null) {
      return promotePeer(peerName, force, pointInTime);
    }
    if (pointInTime != null) {
      if (drills == null) {
        return new Response(
            409,
            "application/json",
            error("this site keeps no history: it cannot be promoted to a point in time"));
      }
      if (pointInTime.hasNonNull("seq") && !pointInTime.get("seq").canConvertToLong()) {
        return new Response(400, "application/json", error("seq must be a number"));
      }
      try {
        Long seq = pointInTime.hasNonNull("seq") ? pointInTime.get("seq").asLong() : null;
        String at = pointInTime.hasNonNull("at") ? pointInTime.get("at").asText() : null;
        String volume =
            pointInTime.hasNonNull("volume") ? pointInTime.get("volume").asText() : null;
        return new Response(
            200,
            "application/json",
            JSON.writeValueAsBytes(drills.promoteAt(force, volume, seq, at)));
      } catch (io.kagami.site.Promotion.RefusedException e) {
        return new Response(409, "application/json", error(e.getMessage()));
      }
    }
    try {
      return new Response(200, "application/json", JSON.writeValueAsBytes(promote.apply(force)));
    } catch (io.kagami.site.Promotion.RefusedException e) {
      return new Response(409, "application/json", error(e.getMessage()));
    }
  }

  /** {@code /promote?peer=NAME}: one primary's volumes of an N:1 standby. */
  private Response promotePeer(String name, boolean force, JsonNode pointInTime)
      throws IOException {
    PeerPromoteControl p = peerPromote;
    if (p == null) {
      return new Response(
          404, "application/json", error("this site cannot promote one peer's volumes"));
    }
    if (name.isEmpty()) {
      return new Response(400, "application/json", error("name the peer: /promote?peer=NAME"));
    }
    Long seq = null;
    String at = null;
    String volume = null;
    if (pointInTime != null) {
      if (pointInTime.hasNonNull("seq") && !pointInTime.get("seq").canConvertToLong()) {
        return new Response(400, "application/json", error("seq must be a number"));
      }
      seq = pointInTime.hasNonNull("seq") ? pointInTime.get("seq").asLong() : null;
      at = pointInTime.hasNonNull("at") ? pointInTime.get("at").asText() : null;
      volume = pointInTime.hasNonNull("volume") ? pointInTime.get("volume").asText() : null;
    }
    try {
      return new Response(
          200, "application/json", JSON.writeValueAsBytes(p.promote(name, force, volume, seq, at)));
    } catch (io.kagami.site.Promotion.RefusedException e) {
      return new Response(409, "application/json", error(e.getMessage()));
    }
  }

  /** The value of {@code key} in the request's query ({@code a=1&b=2}), decoded; null if absent. */
  private static String queryValue(HttpExchange ex, String key) {
    String q = ex.getRequestURI().getRawQuery();
    if (q == null) {
      return null;
    }
    for (String pair : q.split("&")) {
      int eq = pair.indexOf('=');
      String k = eq < 0 ? pair : pair.substring(0, eq);
      if (java.net.URLDecoder.decode(k, StandardCharsets.UTF_8).equals(key)) {
        return eq < 0
            ? ""
            : java.net.URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      }
    }
    return null;
  }

  private Response action(HttpExchange ex, Action action) throws IOException {
    String path = ex.getRequestURI().getPath();
    if (!ex.getRequestMethod().equals("POST")) {
      return new Response(
          405,
          "application/json",
          error("method " + ex.getRequestMethod() + " is not allowed on " + path + " (POST)"));
    }
    JsonNode body;
    try (InputStream in = ex.getRequestBody()) {
      byte[] bytes = in.readNBytes(64 << 10);
      body = bytes.length == 0 ? JSON.createObjectNode() : readJson(bytes);
    } catch (JacksonException e) {
      return new Response(
          400, "application/json", error("not valid JSON: " + e.getOriginalMessage()));
    }
    if (body == null || !body.isObject()) {
      return new Response(
          400, "application/json", error("the body must be empty or a JSON object"));
    }
    try {
      return new Response(200, "application/json", JSON.writeValueAsBytes(action.run(body)));
    } catch (io.kagami.site.Promotion.RefusedException e) {
      return new Response(409, "application/json", error(e.getMessage()));
    } catch (RuntimeException e) {
      throw e;
    } catch (Exception e) {
      throw new IllegalStateException(path + " failed: " + e.getMessage(), e);
    }
  }

  /**
   * {@code POST /heartbeat} (peer heartbeat in, own heartbeat out) and {@code GET/PUT/DELETE
   * /maintenance}.
   */
  private Response failover(HttpExchange ex) throws IOException {
    String path = ex.getRequestURI().getPath();
    String method = ex.getRequestMethod();
    FailoverControl control = failover;
    if (control == null) {
      return new Response(
          404,
          "application/json",
          error(
              "this site has no failover section in its configuration: no heartbeats, no maintenance mode"));
    }
    if (path.equals("/heartbeat")) {
      if (!method.equals("POST")) {
        return new Response(
            405,
            "application/json",
            error("method " + method + " is not allowed on /heartbeat (POST)"));
      }
      byte[] body;
      try (InputStream in = ex.getRequestBody()) {
        body = in.readNBytes(64 << 10);
      }
      try {
        return new Response(200, "application/json", control.heartbeat(body));
      } catch (IllegalArgumentException e) {
        return new Response(400, "application/json", error(e.getMessage()));
      }
    }
    return switch (method) {
      case "GET", "HEAD" ->
          new Response(200, "application/json", JSON.writeValueAsBytes(control.maintenance(null)));
      case "PUT" ->
          new Response(200, "application/json", JSON.writeValueAsBytes(control.maintenance(true)));
      case "DELETE" ->
          new Response(200, "application/json", JSON.writeValueAsBytes(control.maintenance(false)));
      default ->
          new Response(
              405,
              "application/json",
              error("method " + method + " is not allowed on /maintenance (GET, PUT, DELETE)"));
    };
  }

  /**
   * {@code GET /drill}: running drills; {@code POST /drill} with {@code {"volume": "vol0"}} and
   * optionally {@code "seq": N} or {@code "at": "2026-01-01T00:00:00Z"}: starts one; {@code DELETE
   * /drill?volume=vol0}: stops it.
   */
  private Response drill(HttpExchange ex) throws IOException {
    DrillControl d = drills;
    if (d == null) {
      return new Response(404, "application/json", error("this site runs no drills"));
    }
    String usage =
        "the body must be JSON like {\"volume\": \"vol0\"} with optionally \"seq\": N or \"at\": \"2026-01-01T00:00:00Z\"";
    try {
      return switch (ex.getRequestMethod()) {
        case "GET", "HEAD" ->
            new Response(200, "application/json", JSON.writeValueAsBytes(d.list()));
        case "POST" -> {
          JsonNode body;
          try (InputStream in = ex.getRequestBody()) {
            body = readJson(in.readNBytes(64 << 10));
          } catch (JacksonException e) {
            yield new Response(
                400,
                "application/json",
                error("not valid JSON: " + e.getOriginalMessage() + "; " + usage));
          }
          if (body == null
              || !body.isObject()
              || !body.hasNonNull("volume")
              || (body.hasNonNull("seq") && !body.get("seq").canConvertToLong())) {
            yield new Response(400, "application/json", error(usage));
          }
          Long seq = body.hasNonNull("seq") ? body.get("seq").asLong() : null;
          String at = body.hasNonNull("at") ? body.get("at").asText() : null;
          yield new Response(
              200,
              "application/json",
              JSON.writeValueAsBytes(d.start(body.get("volume").asText(), seq, at)));
        }
        case "DELETE" -> {
          String q = ex.getRequestURI().getQuery();
          String volume =
              q != null && q.startsWith("volume=")
                  ? java.net.URLDecoder.decode(q.substring(7), StandardCharsets.UTF_8)
                  : null;
          if (volume == null || volume.isEmpty()) {
            yield new Response(
                400, "application/json", error("name the volume: DELETE /drill?volume=vol0"));
          }
          yield new Response(200, "application/json", JSON.writeValueAsBytes(d.stop(volume)));
        }
        default ->
            new Response(
                405,
                "application/json",
                error(
                    "method "
                        + ex.getRequestMethod()
                        + " is not allowed on /drill (GET, POST, DELETE)"));
      };
    } catch (io.kagami.site.Promotion.RefusedException e) {
      return new Response(409, "application/json", error(e.getMessage()));
    }
  }

  /**
   * A request body as JSON, read as UTF-8 (RFC 8259: JSON between systems is UTF-8). Handing
   * Jackson the bytes let it guess the encoding: a body starting with zero bytes was taken for
   * UTF-32 and failed with a {@code CharConversionException}, which is not a {@link
   * JacksonException}, so the request was dropped without an answer (found by
   * AdminRequestFuzzTest). Bytes that are not UTF-8 become U+FFFD and fail validation like any
   * other wrong value.
   */
  static JsonNode readJson(byte[] body) throws JacksonException {
    return JSON.readTree(new String(body, StandardCharsets.UTF_8));
  }

  private static byte[] error(String message) throws IOException {
    return JSON.writeValueAsBytes(Map.of("error", message));
  }

  private static void send(HttpExchange ex, int code, String type, byte[] body) throws IOException {
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(code, ex.getRequestMethod().equals("HEAD") ? -1 : body.length);
    if (!ex.getRequestMethod().equals("HEAD")) {
      try (OutputStream out = ex.getResponseBody()) {
        out.write(body);
      }
    }
  }

  @Override
  public void close() {
    if (http != null) {
      http.close();
      http = null;
    }
  }
}
