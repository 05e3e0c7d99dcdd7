package io.kagami.testkit.toxi;

import eu.rekawek.toxiproxy.Proxy;
import eu.rekawek.toxiproxy.ToxiproxyClient;
import eu.rekawek.toxiproxy.model.Toxic;
import io.kagami.testkit.net.FreePorts;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Entry point for fault-injection tests: a {@link ToxiproxyClient} pointing at a real Toxiproxy
 * when the environment variable {@code TOXIPROXY_URL} is set (e.g. {@code http://127.0.0.1:8474}),
 * else at a {@link ToxiproxyServer} started in this JVM — so the same test runs against either.
 *
 * <pre>{@code
 * try (Toxiproxies toxiproxies = Toxiproxies.start()) {
 *   Proxy wan = toxiproxies.proxy("wan", standbyAddress);       // listens on a free loopback port
 *   connectShipperTo(toxiproxies.listenAddress(wan));
 *   wan.toxics().latency("wan-latency", ToxicDirection.DOWNSTREAM, 40);
 *   ...
 *   toxiproxies.removeToxics(wan);
 * }
 * }</pre>
 *
 * <p>Close deletes the proxies this handle created (not others on a shared real server) and stops
 * the in-process server. Toxic changes are synchronous: when the client call returns, every live
 * connection of the proxy has the change.
 */
public final class Toxiproxies implements AutoCloseable {
  /** The environment variable naming a real Toxiproxy's API, e.g. {@code http://127.0.0.1:8474}. */
  public static final String URL_VARIABLE = "TOXIPROXY_URL";

  private static final int LISTEN_ATTEMPTS = 5;

  private final ToxiproxyClient client;
  private final ToxiproxyServer inProcess;
  private final String url;
  private final List<Proxy> created = new ArrayList<>();

  private Toxiproxies(ToxiproxyClient client, ToxiproxyServer inProcess, String url) {
    this.client = client;
    this.inProcess = inProcess;
    this.url = url;
  }

  /**
   * The real Toxiproxy at {@code TOXIPROXY_URL} if set, else an in-process server with a random
   * seed.
   */
  public static Toxiproxies start() throws IOException {
    return start(ThreadLocalRandom.current().nextLong());
  }

  /**
   * As {@link #start()}; an in-process server draws toxicity, jitter and slice sizes from {@code
   * seed} (a real Toxiproxy has its own randomness).
   */
  public static Toxiproxies start(long seed) throws IOException {
    String external = System.getenv(URL_VARIABLE);
    if (external != null && !external.isBlank()) {
      return connect(URI.create(external.trim()));
    }
    return startInProcess(seed);
  }

  /** Always an in-process server, whatever the environment says. */
  public static Toxiproxies startInProcess(long seed) throws IOException {
    ToxiproxyServer server = ToxiproxyServer.create(seed).start();
    return new Toxiproxies(new ToxiproxyClient(server.host(), server.port()), server, server.url());
  }

  /** A real Toxiproxy's API at {@code url} ({@code http://host:port}). */
  public static Toxiproxies connect(URI url) {
    if (url.getHost() == null || url.getPort() < 0 || url.getScheme() == null) {
      throw new IllegalArgumentException(
          URL_VARIABLE
              + " \""
              + url
              + "\" is not a Toxiproxy API address (expected e.g. http://127.0.0.1:8474)");
    }
    return new Toxiproxies(
        new ToxiproxyClient(url.getScheme(), url.getHost(), url.getPort()), null, url.toString());
  }

  public ToxiproxyClient client() {
    return client;
  }

  /** Whether the server runs in this JVM (false: a real Toxiproxy at {@code TOXIPROXY_URL}). */
  public boolean inProcess() {
    return inProcess != null;
  }

  /** The API address, for messages. */
  public String url() {
    return url;
  }

  /** The in-process server's seed, to print with a failure; empty against a real Toxiproxy. */
  public OptionalLong seed() {
    return inProcess == null ? OptionalLong.empty() : OptionalLong.of(inProcess.seed());
  }

  /**
   * A proxy named {@code name} from a free loopback port to {@code upstream} ({@code host:port}).
   */
  public Proxy proxy(String name, String upstream) throws IOException {
    IOException lastFailure = null;
    for (int attempt = 0; attempt < LISTEN_ATTEMPTS; attempt++) {
      String listen = "127.0.0.1:" + FreePorts.loopbackPort();
      try {
        Proxy proxy = client.createProxy(name, listen, upstream);
        synchronized (created) {
          created.add(proxy);
        }
        return proxy;
      } catch (IOException e) {
        // Another process may take the port between the check and the server's bind (a 500);
        // any other refusal (409 duplicate, 400 bad upstream) will not go away by retrying.
        if (e.getMessage() == null || !e.getMessage().startsWith("[500]")) {
          throw e;
        }
        lastFailure = e;
      }
    }
    throw new IOException(
        "proxy \"" + name + "\": no free loopback port after " + LISTEN_ATTEMPTS + " attempts",
        lastFailure);
  }

  /** A proxy named {@code name} from a free loopback port to {@code upstream}. */
  public Proxy proxy(String name, InetSocketAddress upstream) throws IOException {
    return proxy(name, upstream.getHostString() + ":" + upstream.getPort());
  }

  /** Where clients connect to go through {@code proxy}. */
  public InetSocketAddress listenAddress(Proxy proxy) {
    String listen = proxy.getListen();
    int colon = listen.lastIndexOf(':');
    String host = listen.substring(0, colon).replace("[", "").replace("]", "");
    return new InetSocketAddress(host, Integer.parseInt(listen.substring(colon + 1)));
  }

  /** Removes every toxic of {@code proxy}; the proxy stays as it is (enabled or not). */
  public void removeToxics(Proxy proxy) throws IOException {
    for (Toxic toxic : proxy.toxics().getAll()) {
      toxic.remove();
    }
  }

  /** Which server, and the seed to replay an in-process run: worth printing with a failure. */
  @Override
  public String toString() {
    return inProcess == null
        ? "Toxiproxy at " + url + " (" + URL_VARIABLE + ")"
        : "in-process Toxiproxy at " + url + ", seed " + inProcess.seed();
  }

  /** Deletes the proxies this handle created, then stops the in-process server. */
  @Override
  public void close() throws IOException {
    IOException failure = null;
    List<Proxy> toDelete;
    synchronized (created) {
      toDelete = List.copyOf(created);
      created.clear();
    }
    for (Proxy proxy : toDelete) {
      try {
        proxy.delete();
      } catch (IOException e) {
        // Already deleted by the test is fine (the client's DELETE reports a 404 as
        // FileNotFoundException); anything else is reported after the rest is done.
        if (!(e instanceof FileNotFoundException)) {
          failure = failure == null ? e : failure;
        }
      }
    }
    if (inProcess != null) {
      inProcess.close();
    }
    if (failure != null) {
      throw failure;
    }
  }
}
