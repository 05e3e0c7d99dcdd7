package io.kagami.site.admin;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import io.kagami.site.auth.HttpTls;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;

/**
 * One JDK HTTP server as the admin and witness ports run it: {@link HttpLimits} installed before it
 * is created, every path served by one handler, each request on its own virtual thread; HTTPS (TLS
 * 1.3, {@link HttpTls}) when given a TLS context, plain HTTP otherwise. Listening when {@link
 * #start} returns; {@link #close} stops it at once and waits for the requests in flight.
 */
public final class HttpEndpoint implements AutoCloseable {
  /** Connections the kernel holds while the server is busy. */
  private static final int BACKLOG = 64;

  private final HttpServer server;
  private final ExecutorService executor;

  private final boolean tls;

  private HttpEndpoint(HttpServer server, ExecutorService executor, boolean tls) {
    this.server = server;
    this.executor = executor;
    this.tls = tls;
  }

  /** Listens on {@code address} for plain HTTP; throws when it cannot. */
  public static HttpEndpoint start(InetSocketAddress address, HttpHandler handler)
      throws IOException {
    return start(address, handler, null);
  }

  /**
   * Listens on {@code address}, for HTTPS with {@code tls} or plain HTTP when it is null; throws
   * when it cannot (the caller names the port's role).
   */
  public static HttpEndpoint start(InetSocketAddress address, HttpHandler handler, SSLContext tls)
      throws IOException {
    HttpLimits.install();
    HttpServer server;
    if (tls == null) {
      server = HttpServer.create(address, BACKLOG);
    } else {
      HttpsServer https = HttpsServer.create(address, BACKLOG);
      https.setHttpsConfigurator(
          new HttpsConfigurator(tls) {
            @Override
            public void configure(HttpsParameters params) {
              params.setSSLParameters(HttpTls.parameters(tls));
            }
          });
      server = https;
    }
    ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    server.setExecutor(executor);
    server.createContext("/", handler);
    server.start();
    return new HttpEndpoint(server, executor, tls != null);
  }

  /** {@code https} or {@code http}. */
  public String scheme() {
    return tls ? "https" : "http";
  }

  /** The bound address (the real port when started on port 0). */
  public InetSocketAddress address() {
    return server.getAddress();
  }

  @Override
  public void close() {
    server.stop(0);
    executor.close();
  }
}
