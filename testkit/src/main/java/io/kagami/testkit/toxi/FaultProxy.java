package io.kagami.testkit.toxi;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One Toxiproxy "proxy": listens on {@code listen}, connects each accepted client to {@code
 * upstream}, and applies its toxics to every connection, present and future.
 *
 * <p>All state changes go through this object's monitor, including the registration of a new
 * connection, so a toxic added while a client connects is applied exactly once. Disabling stops
 * listening and closes every connection (as Toxiproxy does); enabling listens again on the same
 * address. Connections draw toxicity, jitter and slice sizes from a random source seeded by the
 * server's seed and the proxy's name, so a run replays given the same connection order.
 */
final class FaultProxy {
  private static final int UPSTREAM_CONNECT_TIMEOUT_MILLIS = 10_000;
  private static final Duration ACCEPTOR_EXIT_WAIT = Duration.ofSeconds(10);

  private final String name;
  private final Random random;
  private String listen;
  private String upstream;
  private InetSocketAddress upstreamAddress;
  private boolean enabled;
  private ServerSocket listener;
  private Thread acceptor;
  private final List<ToxicSpec> toxics = new ArrayList<>();
  private final Set<ProxiedConnection> connections = ConcurrentHashMap.newKeySet();
  private int acceptedCount;

  FaultProxy(String name, String listen, String upstream, long seed) throws ApiException {
    this.name = name;
    this.listen = listen.isEmpty() ? "127.0.0.1:0" : listen;
    parseAddress("listen", this.listen);
    this.upstream = upstream;
    this.upstreamAddress = parseAddress("upstream", upstream);
    this.random = new Random(seed ^ name.hashCode());
  }

  String name() {
    return name;
  }

  synchronized boolean enabled() {
    return enabled;
  }

  synchronized ObjectNode toJson() {
    ObjectNode node = JsonNodeFactory.instance.objectNode();
    node.put("name", name);
    node.put("listen", listen);
    node.put("upstream", upstream);
    node.put("enabled", enabled);
    node.set("toxics", toxicsJson());
    return node;
  }

  synchronized ArrayNode toxicsJson() {
    ArrayNode array = JsonNodeFactory.instance.arrayNode();
    for (StreamDirection direction : StreamDirection.values()) {
      for (ToxicSpec spec : toxics) {
        if (spec.stream() == direction) {
          array.add(spec.toJson());
        }
      }
    }
    return array;
  }

  /** Starts listening; a failure to bind leaves the proxy disabled and answers 500. */
  synchronized void start() throws ApiException {
    if (enabled) {
      return;
    }
    InetSocketAddress unresolved = parseAddress("listen", listen);
    ServerSocket socket = null;
    try {
      InetSocketAddress address =
          new InetSocketAddress(unresolved.getHostString(), unresolved.getPort());
      socket = new ServerSocket();
      socket.setReuseAddress(true);
      socket.bind(address, 128);
    } catch (IOException e) {
      closeQuietly(socket);
      throw new ApiException(
          500, "proxy \"" + name + "\": cannot listen on " + listen + ": " + e.getMessage());
    }
    listener = socket;
    listen = hostString(socket.getInetAddress()) + ":" + socket.getLocalPort();
    enabled = true;
    ServerSocket acceptedBy = socket;
    acceptor =
        Thread.ofVirtual()
            .name("kagami-toxi-" + name + "-accept")
            .start(() -> acceptLoop(acceptedBy));
  }

  /**
   * Stops listening and closes every connection. Returns once the accept thread is gone: a socket
   * closed while a thread is blocked in accept releases its port only when that thread leaves, and
   * an update re-listens on the same port right away (Toxiproxy waits the same way).
   */
  void stop() {
    List<ProxiedConnection> toClose;
    Thread stoppedAcceptor;
    synchronized (this) {
      if (!enabled) {
        return;
      }
      enabled = false;
      closeQuietly(listener);
      listener = null;
      stoppedAcceptor = acceptor;
      acceptor = null;
      toClose = List.copyOf(connections);
    }
    for (ProxiedConnection connection : toClose) {
      connection.close();
    }
    try {
      if (!stoppedAcceptor.join(ACCEPTOR_EXIT_WAIT)) {
        throw new IllegalStateException(
            "proxy \""
                + name
                + "\": accept thread still running "
                + ACCEPTOR_EXIT_WAIT
                + " after its socket was closed");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Toxiproxy's update: a new listen or upstream restarts the proxy; then enable or disable. */
  void update(String newListen, String newUpstream, boolean newEnabled) throws ApiException {
    InetSocketAddress newUpstreamAddress = parseAddress("upstream", newUpstream);
    parseAddress("listen", newListen);
    boolean restart;
    synchronized (this) {
      restart = !newListen.equals(listen) || !newUpstream.equals(upstream);
    }
    if (restart) {
      stop();
      synchronized (this) {
        listen = newListen;
        upstream = newUpstream;
        upstreamAddress = newUpstreamAddress;
      }
    }
    if (newEnabled) {
      start();
    } else {
      stop();
    }
  }

  synchronized ToxicSpec toxic(String toxicName) throws ApiException {
    int index = indexOf(toxicName);
    if (index < 0) {
      throw ApiException.notFound(
          "toxic not found: \"" + toxicName + "\" on proxy \"" + name + "\"");
    }
    return toxics.get(index);
  }

  synchronized void addToxic(ToxicSpec spec) throws ApiException {
    if (indexOf(spec.name()) >= 0) {
      throw ApiException.conflict(
          "toxic already exists: \"" + spec.name() + "\" on proxy \"" + name + "\"");
    }
    toxics.add(spec);
    for (ProxiedConnection connection : connections) {
      connection.link(spec.stream()).addToxic(spec);
    }
  }

  synchronized void updateToxic(ToxicSpec spec) throws ApiException {
    int index = indexOf(spec.name());
    if (index < 0) {
      throw ApiException.notFound(
          "toxic not found: \"" + spec.name() + "\" on proxy \"" + name + "\"");
    }
    toxics.set(index, spec);
    for (ProxiedConnection connection : connections) {
      connection.link(spec.stream()).updateToxic(spec);
    }
  }

  synchronized void removeToxic(String toxicName) throws ApiException {
    ToxicSpec spec = toxic(toxicName);
    toxics.remove(spec);
    for (ProxiedConnection connection : connections) {
      connection.link(spec.stream()).removeToxic(toxicName);
    }
  }

  synchronized void removeAllToxics() {
    for (ToxicSpec spec : List.copyOf(toxics)) {
      toxics.remove(spec);
      for (ProxiedConnection connection : connections) {
        connection.link(spec.stream()).removeToxic(spec.name());
      }
    }
  }

  private int indexOf(String toxicName) {
    for (int i = 0; i < toxics.size(); i++) {
      if (toxics.get(i).name().equals(toxicName)) {
        return i;
      }
    }
    return -1;
  }

  private void acceptLoop(ServerSocket socket) {
    while (true) {
      Socket client;
      try {
        client = socket.accept();
      } catch (IOException closed) {
        return; // stop() closed the listener
      }
      Thread.ofVirtual()
          .name("kagami-toxi-" + name + "-connect")
          .start(() -> connect(socket, client));
    }
  }

  /**
   * Connects one accepted client upstream; a client whose upstream refuses is closed, as in
   * Toxiproxy.
   */
  private void connect(ServerSocket acceptedBy, Socket client) {
    InetSocketAddress target;
    synchronized (this) {
      target = upstreamAddress;
    }
    Socket up = new Socket();
    try {
      client.setTcpNoDelay(
          true); // Go's TCP connections default to no Nagle; timing toxics rely on it
      up.setTcpNoDelay(true);
      up.connect(
          target.isUnresolved()
              ? new InetSocketAddress(target.getHostString(), target.getPort())
              : target,
          UPSTREAM_CONNECT_TIMEOUT_MILLIS);
    } catch (IOException upstreamDown) {
      closeQuietly(up);
      closeQuietly(client);
      return;
    }
    synchronized (this) {
      if (listener != acceptedBy) {
        // Disabled (or restarted) while connecting: this connection belongs to the old listener.
        closeQuietly(up);
        closeQuietly(client);
        return;
      }
      List<ToxicSpec> upstreamChain = new ArrayList<>();
      List<ToxicSpec> downstreamChain = new ArrayList<>();
      for (ToxicSpec spec : toxics) {
        (spec.stream() == StreamDirection.UPSTREAM ? upstreamChain : downstreamChain).add(spec);
      }
      ProxiedConnection connection =
          new ProxiedConnection(
              client, up, upstreamChain, downstreamChain, random, connections::remove);
      connections.add(connection);
      acceptedCount++;
      connection.start("kagami-toxi-" + name + "-" + acceptedCount);
    }
  }

  private static InetSocketAddress parseAddress(String field, String hostPort) throws ApiException {
    try {
      URI uri = new URI("tcp://" + hostPort);
      if (uri.getHost() == null
          || uri.getPort() < 0
          || uri.getPath() != null && !uri.getPath().isEmpty()) {
        throw ApiException.badRequest(
            field
                + " \""
                + hostPort
                + "\" is not an address (expected host:port, e.g. 127.0.0.1:8080)");
      }
      return InetSocketAddress.createUnresolved(
          uri.getHost().replace("[", "").replace("]", ""), uri.getPort());
    } catch (URISyntaxException e) {
      throw ApiException.badRequest(
          field
              + " \""
              + hostPort
              + "\" is not an address (expected host:port, e.g. 127.0.0.1:8080)");
    }
  }

  private static String hostString(InetAddress address) {
    String host = address.getHostAddress();
    return host.contains(":") ? "[" + host + "]" : host;
  }

  private static void closeQuietly(AutoCloseable closeable) {
    if (closeable == null) {
      return;
    }
    try {
      closeable.close();
    } catch (Exception ignored) {
      // Releasing a socket: nothing useful to do when its close reports an error.
    }
  }
}
