package io.kagami.site.admin;

import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * One JDK HTTP server as the admin and witness ports run it: {@link HttpLimits} installed before it
 * is created, every path served by one handler, each request on its own virtual thread. Listening
 * when {@link #start} returns; {@link #close} stops it at once and waits for the requests in
 * flight.
 */
public final class HttpEndpoint implements AutoCloseable {
  /** Connections the kernel holds while the server is busy. */
  private static final int BACKLOG = 64;

  private final HttpServer server;
  private final ExecutorService executor;

  private HttpEndpoint(HttpServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /** Listens on {@code address}; throws when it cannot (the caller names the port's role). */
  public static HttpEndpoint start(InetSocketAddress address, HttpHandler handler)
      throws IOException {
    HttpLimits.install();
    HttpServer server = HttpServer.create(address, BACKLOG);
    ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    server.setExecutor(executor);
    server.createContext("/", handler);
    server.start();
    return new HttpEndpoint(server, executor);
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
