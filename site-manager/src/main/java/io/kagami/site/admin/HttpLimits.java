package io.kagami.site.admin;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Bounds on what one HTTP client may cost the JDK HTTP server behind the admin and witness ports: a
 * client has {@link #HEADER_DEADLINE} to send its request headers and {@link #RESPONSE_DEADLINE} to
 * take the response, idle keep-alive connections close after {@link #IDLE}, and at most {@link
 * #MAX_CONNECTIONS} connections are open at once (the rest wait in the kernel's backlog). Without
 * them a client sending one header line a second holds a connection forever.
 *
 * <p>The JDK reads these settings once, from system properties, when its HTTP server is first used;
 * {@link #install()} sets them before that ({@link HttpEndpoint} calls it before creating each
 * {@code HttpServer}), leaving alone any the operator set on the command line.
 */
public final class HttpLimits {
  public static final Duration HEADER_DEADLINE = Duration.ofSeconds(10);
  public static final Duration RESPONSE_DEADLINE = Duration.ofSeconds(60);
  public static final Duration IDLE = Duration.ofSeconds(30);
  public static final int MAX_CONNECTIONS = 256;
  public static final int MAX_HEADERS = 64;
  public static final int MAX_HEADER_BYTES = 64 << 10;

  private HttpLimits() {}

  /** The settings, by JDK property name. */
  static Map<String, String> settings() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("sun.net.httpserver.maxReqTime", Long.toString(HEADER_DEADLINE.toSeconds()));
    m.put("sun.net.httpserver.maxRspTime", Long.toString(RESPONSE_DEADLINE.toSeconds()));
    m.put("sun.net.httpserver.idleInterval", Long.toString(IDLE.toSeconds()));
    m.put("jdk.httpserver.maxConnections", Integer.toString(MAX_CONNECTIONS));
    m.put("sun.net.httpserver.maxReqHeaders", Integer.toString(MAX_HEADERS));
    m.put("sun.net.httpserver.maxReqHeaderSize", Integer.toString(MAX_HEADER_BYTES));
    return m;
  }

  /** Sets every limit the operator has not set; call before the first {@code HttpServer.create}. */
  public static synchronized void install() {
    settings()
        .forEach(
            (k, v) -> {
              if (System.getProperty(k) == null) {
                System.setProperty(k, v);
              }
            });
  }
}
