package io.kagami.site.admin;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpContext;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpPrincipal;
import io.kagami.site.Promotion;
import io.kagami.site.config.HostPort;
import io.kagami.site.failover.HeartbeatCodec;
import io.kagami.testkit.fuzz.AllocationBudget;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.List;
import java.util.Map;

/**
 * Coverage-guided fuzzing of the admin API's request bodies: {@link AdminServer#handle} (the same
 * method the HTTP server calls) with a fuzzer-chosen method, endpoint and JSON body, for every
 * endpoint that reads a body ({@code PUT /link}, {@code POST /promote} with force, seq, at and
 * volume, {@code POST /drill}, {@code POST /heartbeat} with the real heartbeat codec, {@code POST
 * /failback}). The controls behind them accept what they are given, so the target checks the
 * parsing and validation in front of them.
 *
 * <p>The contract: every answer is 200, 400, 404, 405 or 409 with a JSON body, and every 4xx says
 * why in {@code "error"}; a 500 means an exception the handler did not expect (it would be logged
 * as "admin request ... failed"); no hang; at most 4 MiB plus 4 KiB per body byte of allocation.
 */
class AdminRequestFuzzTest {
  private static final String[] PATHS = {
    "/link", "/promote", "/drill", "/heartbeat", "/failback", "/maintenance", "/status"
  };
  private static final String[] METHODS = {"POST", "PUT", "GET", "DELETE"};

  /**
   * 16 MiB a request: answering one (a status, a refusal with its log line) may legitimately build
   * a few MiB on a path's first use; the bugs this catches (a length field trusted) ask for far
   * more. 4 MiB was exceeded once by an empty body in CI's 10 s fuzzing run.
   */
  private static final AllocationBudget BUDGET = AllocationBudget.of(16 << 20, 4096);

  /** Refusals and failures are logged; millions of them are noise here. */
  static final java.util.logging.Logger QUIET = quiet();

  static java.util.logging.Logger quiet() {
    java.util.logging.Logger l = java.util.logging.Logger.getLogger("io.kagami");
    l.setLevel(java.util.logging.Level.OFF);
    return l;
  }

  private static final AdminServer SERVER = server();

  @FuzzTest(maxDuration = "10s")
  void anyBodyGetsAnAnswerWithAReason(FuzzedDataProvider data) throws IOException {
    String path = data.pickValue(PATHS);
    String method = data.pickValue(METHODS);
    byte[] body = data.consumeRemainingAsBytes();
    FakeExchange[] ex = new FakeExchange[1];
    BUDGET.check(
        body.length,
        () -> {
          ex[0] = new FakeExchange(method, path, body);
          SERVER.handle(ex[0]);
        });
    int code = ex[0].code;
    String what = method + " " + path + " with " + body.length + " bytes of body";
    if (code != 200 && code != 400 && code != 404 && code != 405 && code != 409) {
      throw new AssertionError(what + " answered " + code + ": " + ex[0].answer());
    }
    JsonNode answer;
    try {
      answer = AdminServer.JSON.readTree(ex[0].answer());
    } catch (IOException e) {
      throw new AssertionError(what + " answered " + code + " with a body that is not JSON", e);
    }
    if (code != 200 && (answer == null || !answer.path("error").isTextual())) {
      throw new AssertionError(what + " answered " + code + " without an error: " + answer);
    }
  }

  private static AdminServer server() {
    LinkControl link =
        new LinkControl() {
          @Override
          public LinkBandwidth bandwidth() {
            return new LinkBandwidth(0, "unlimited", "configuration", null, 0, List.of(), "UTC");
          }

          @Override
          public LinkBandwidth override(Long bytesPerSecond) {
            long b = bytesPerSecond == null ? 0 : bytesPerSecond;
            return new LinkBandwidth(
                b, b + " B/s", "override", bytesPerSecond, 0, List.of(), "UTC");
          }
        };
    AdminServer s =
        new AdminServer(
            new HostPort("127.0.0.1", 0),
            () -> null,
            null,
            link,
            force -> Map.of("promoted", true, "force", force));
    s.action("/failback", body -> Map.of("failback", "started"));
    s.drills(
        new DrillControl() {
          @Override
          public Object start(String volume, Long seq, String at) {
            return Map.of("volume", volume);
          }

          @Override
          public Object stop(String volume) {
            return Map.of("volume", volume);
          }

          @Override
          public Object list() {
            return List.of();
          }

          @Override
          public Object promoteAt(boolean force, String volume, Long seq, String at) {
            if (volume == null) {
              throw new Promotion.RefusedException("name the volume");
            }
            return Map.of("volume", volume);
          }
        });
    s.failover(
        new FailoverControl() {
          @Override
          public byte[] heartbeat(byte[] body) {
            return HeartbeatCodec.echo(body);
          }

          @Override
          public Object maintenance(Boolean on) {
            return Map.of("maintenance", on == null ? false : on);
          }
        });
    return s;
  }

  /** One request and its answer, without a socket. */
  private static final class FakeExchange extends HttpExchange {
    private final String method;
    private final URI uri;
    private final InputStream body;
    private final Headers requestHeaders = new Headers();
    private final Headers responseHeaders = new Headers();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    int code = -1;

    FakeExchange(String method, String path, byte[] body) {
      this.method = method;
      this.uri = URI.create(path);
      this.body = new ByteArrayInputStream(body);
      requestHeaders.add("Content-Type", "application/json");
    }

    byte[] answer() {
      return out.toByteArray();
    }

    @Override
    public Headers getRequestHeaders() {
      return requestHeaders;
    }

    @Override
    public Headers getResponseHeaders() {
      return responseHeaders;
    }

    @Override
    public URI getRequestURI() {
      return uri;
    }

    @Override
    public String getRequestMethod() {
      return method;
    }

    @Override
    public HttpContext getHttpContext() {
      return null;
    }

    @Override
    public void close() {}

    @Override
    public InputStream getRequestBody() {
      return body;
    }

    @Override
    public OutputStream getResponseBody() {
      return out;
    }

    @Override
    public void sendResponseHeaders(int rCode, long responseLength) {
      code = rCode;
    }

    @Override
    public InetSocketAddress getRemoteAddress() {
      return new InetSocketAddress("127.0.0.1", 40000);
    }

    @Override
    public int getResponseCode() {
      return code;
    }

    @Override
    public InetSocketAddress getLocalAddress() {
      return new InetSocketAddress("127.0.0.1", 7000);
    }

    @Override
    public String getProtocol() {
      return "HTTP/1.1";
    }

    @Override
    public Object getAttribute(String name) {
      return null;
    }

    @Override
    public void setAttribute(String name, Object value) {}

    @Override
    public void setStreams(InputStream i, OutputStream o) {}

    @Override
    public HttpPrincipal getPrincipal() {
      return null;
    }
  }
}
