package io.kagami.testkit.toxi;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.kagami.testkit.net.FreePorts;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * An in-process server speaking the Toxiproxy 2.x HTTP API, for tests on machines where the real
 * Toxiproxy cannot be installed. Listens on 127.0.0.1 on an ephemeral port; point the official
 * client at {@link #host()}:{@link #port()} (or use {@link Toxiproxies}).
 *
 * <p>Endpoints, with Toxiproxy's status codes: {@code GET /version}; {@code POST /reset} (enable
 * every proxy, remove every toxic); {@code GET|POST /proxies}; {@code GET|POST|PATCH|DELETE
 * /proxies/{proxy}}; {@code GET|POST /proxies/{proxy}/toxics}; {@code GET|POST|PATCH|DELETE
 * /proxies/{proxy}/toxics/{toxic}}. Errors answer {@code {"error": "...", "status": N}}: 400 bad
 * body or toxic attributes, 404 unknown proxy or toxic, 409 duplicate name. Toxic semantics are
 * described on {@link ToxicStage}.
 *
 * <p>API requests are handled one at a time (one lock), so each change is complete — applied to
 * every live connection of the proxy — before its reply is sent. Explicit {@link #start()}; {@link
 * #close()} deletes every proxy (closing their connections) and stops the API; both idempotent.
 */
public final class ToxiproxyServer implements AutoCloseable {
  /** What {@code GET /version} reports: the API level emulated, and that it is not the real one. */
  public static final String VERSION = "2.12.0-kagami-inprocess";

  private static final ObjectMapper JSON = new ObjectMapper();

  private final long seed;
  private final Object apiLock = new Object();
  private final Map<String, FaultProxy> proxies = new LinkedHashMap<>();
  private HttpServer http;
  private ExecutorService executor;
  private boolean closed;

  private ToxiproxyServer(long seed) {
    this.seed = seed;
  }

  /** A server whose connections draw toxicity, jitter and slice sizes from {@code seed}. */
  public static ToxiproxyServer create(long seed) {
    return new ToxiproxyServer(seed);
  }

  /** The seed connections draw toxicity, jitter and slice sizes from; print it to replay a run. */
  public long seed() {
    return seed;
  }

  /** Binds the API to 127.0.0.1 on an ephemeral port. */
  public synchronized ToxiproxyServer start() throws IOException {
    if (closed) {
      throw new IllegalStateException("this ToxiproxyServer is closed; create a new one");
    }
    if (http != null) {
      return this;
    }
    executor =
        Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("kagami-toxi-api-", 0).factory());
    HttpServer server = HttpServer.create(new InetSocketAddress(FreePorts.loopback(), 0), 64);
    server.setExecutor(executor);
    server.createContext("/", this::handle);
    server.start();
    http = server;
    return this;
  }

  public String host() {
    return "127.0.0.1";
  }

  public synchronized int port() {
    if (http == null) {
      throw new IllegalStateException("ToxiproxyServer is not started");
    }
    return http.getAddress().getPort();
  }

  /** {@code http://127.0.0.1:<port>}, the form {@code TOXIPROXY_URL} takes. */
  public String url() {
    return "http://" + host() + ":" + port();
  }

  @Override
  public void close() {
    HttpServer server;
    ExecutorService pool;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      server = http;
      pool = executor;
      http = null;
    }
    if (server != null) {
      server.stop(0);
    }
    synchronized (apiLock) {
      for (FaultProxy proxy : proxies.values()) {
        proxy.stop();
      }
      proxies.clear();
    }
    if (pool != null) {
      pool.close();
    }
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      try {
        Reply reply;
        synchronized (apiLock) {
          reply = route(exchange.getRequestMethod(), segments(exchange.getRequestURI()), exchange);
        }
        send(exchange, reply);
      } catch (ApiException e) {
        ObjectNode error = JSON.createObjectNode();
        error.put("error", e.getMessage());
        error.put("status", e.status());
        send(exchange, new Reply(e.status(), error));
      } catch (RuntimeException e) {
        ObjectNode error = JSON.createObjectNode();
        error.put("error", "internal error: " + e);
        error.put("status", 500);
        send(exchange, new Reply(500, error));
      }
    }
  }

  private record Reply(int status, Object body) {
    static Reply json(JsonNode body) {
      return new Reply(200, body);
    }

    static Reply noContent() {
      return new Reply(204, null);
    }
  }

  private Reply route(String method, List<String> path, HttpExchange exchange)
      throws IOException, ApiException {
    int n = path.size();
    if (n == 1 && path.get(0).equals("version")) {
      requireMethod(method, "GET");
      ObjectNode version = JSON.createObjectNode();
      version.put("version", VERSION);
      return Reply.json(version);
    }
    if (n == 1 && path.get(0).equals("reset")) {
      requireMethod(method, "POST");
      for (FaultProxy proxy : proxies.values()) {
        proxy.start();
        proxy.removeAllToxics();
      }
      return Reply.noContent();
    }
    if (n == 0 || !path.get(0).equals("proxies")) {
      throw ApiException.notFound(
          "no such endpoint: " + method + " " + exchange.getRequestURI().getPath());
    }
    if (n == 1) {
      return switch (method) {
        case "GET" -> {
          ObjectNode all = JSON.createObjectNode();
          for (FaultProxy proxy : proxies.values()) {
            all.set(proxy.name(), proxy.toJson());
          }
          yield Reply.json(all);
        }
        case "POST" -> new Reply(201, createProxy(readBody(exchange)).toJson());
        default -> throw methodNotAllowed(method);
      };
    }
    FaultProxy proxy = proxies.get(path.get(1));
    if (proxy == null) {
      throw ApiException.notFound("proxy not found: \"" + path.get(1) + "\"");
    }
    if (n == 2) {
      return switch (method) {
        case "GET" -> Reply.json(proxy.toJson());
        case "POST", "PATCH" -> {
          updateProxy(proxy, readBody(exchange));
          yield Reply.json(proxy.toJson());
        }
        case "DELETE" -> {
          proxy.stop();
          proxies.remove(proxy.name());
          yield Reply.noContent();
        }
        default -> throw methodNotAllowed(method);
      };
    }
    if (!path.get(2).equals("toxics") || n > 4) {
      throw ApiException.notFound(
          "no such endpoint: " + method + " " + exchange.getRequestURI().getPath());
    }
    if (n == 3) {
      return switch (method) {
        case "GET" -> Reply.json(proxy.toxicsJson());
        case "POST" -> {
          ToxicSpec spec = ToxicSpec.fromCreateRequest(readBody(exchange));
          proxy.addToxic(spec);
          yield Reply.json(spec.toJson()); // Toxiproxy answers 200 here, not 201
        }
        default -> throw methodNotAllowed(method);
      };
    }
    String toxicName = path.get(3);
    return switch (method) {
      case "GET" -> Reply.json(proxy.toxic(toxicName).toJson());
      case "POST", "PATCH" -> {
        ToxicSpec updated = proxy.toxic(toxicName).updatedBy(readBody(exchange));
        proxy.updateToxic(updated);
        yield Reply.json(updated.toJson());
      }
      case "DELETE" -> {
        proxy.removeToxic(toxicName);
        yield Reply.noContent();
      }
      default -> throw methodNotAllowed(method);
    };
  }

  private FaultProxy createProxy(JsonNode body) throws ApiException {
    requireObject(body);
    String name = text(body, "name", "");
    String upstream = text(body, "upstream", "");
    if (name.isEmpty()) {
      throw ApiException.badRequest("missing required field: name");
    }
    if (upstream.isEmpty()) {
      throw ApiException.badRequest("missing required field: upstream");
    }
    if (proxies.containsKey(name)) {
      throw ApiException.conflict("proxy already exists: \"" + name + "\"");
    }
    FaultProxy proxy = new FaultProxy(name, text(body, "listen", ""), upstream, seed);
    if (bool(body, "enabled", true)) {
      proxy.start(); // as Toxiproxy: a proxy that cannot listen is not created
    }
    proxies.put(name, proxy);
    return proxy;
  }

  private static void updateProxy(FaultProxy proxy, JsonNode body) throws ApiException {
    requireObject(body);
    ObjectNode current = proxy.toJson();
    proxy.update(
        text(body, "listen", current.get("listen").asText()),
        text(body, "upstream", current.get("upstream").asText()),
        bool(body, "enabled", current.get("enabled").asBoolean()));
  }

  private static void requireObject(JsonNode body) throws ApiException {
    if (body == null || !body.isObject()) {
      throw ApiException.badRequest("bad request body: expected a JSON object");
    }
  }

  private static String text(JsonNode body, String field, String fallback) throws ApiException {
    JsonNode value = body.get(field);
    if (value == null || value.isNull()) {
      return fallback;
    }
    if (!value.isTextual()) {
      throw ApiException.badRequest(
          "bad request body: " + field + " must be a string, got " + value);
    }
    return value.asText();
  }

  private static boolean bool(JsonNode body, String field, boolean fallback) throws ApiException {
    JsonNode value = body.get(field);
    if (value == null || value.isNull()) {
      return fallback;
    }
    if (!value.isBoolean()) {
      throw ApiException.badRequest(
          "bad request body: " + field + " must be true or false, got " + value);
    }
    return value.asBoolean();
  }

  private static JsonNode readBody(HttpExchange exchange) throws ApiException {
    try (InputStream in = exchange.getRequestBody()) {
      byte[] bytes = in.readAllBytes();
      if (bytes.length == 0) {
        throw ApiException.badRequest("bad request body: empty");
      }
      return JSON.readTree(bytes);
    } catch (IOException e) {
      throw ApiException.badRequest("bad request body: " + e.getMessage());
    }
  }

  private static void requireMethod(String method, String allowed) throws ApiException {
    if (!method.equals(allowed)) {
      throw methodNotAllowed(method);
    }
  }

  private static ApiException methodNotAllowed(String method) {
    return new ApiException(405, "method not allowed: " + method);
  }

  private static List<String> segments(URI uri) {
    List<String> segments = new ArrayList<>();
    for (String segment : uri.getPath().split("/")) {
      if (!segment.isEmpty()) {
        segments.add(segment);
      }
    }
    return segments;
  }

  private static void send(HttpExchange exchange, Reply reply) throws IOException {
    if (reply.body() == null) {
      exchange.sendResponseHeaders(reply.status(), -1);
      return;
    }
    byte[] bytes = JSON.writeValueAsString(reply.body()).getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(reply.status(), bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }
}
