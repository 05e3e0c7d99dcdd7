package io.kagami.wan.receive;

import io.kagami.clock.SystemTime;
import io.kagami.wan.frame.ByteCounter;
import io.kagami.wan.pipeline.WanPipeline;
import io.kagami.wan.tls.Tls;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;

/**
 * The standby's end of the WAN link: listens for primaries over mutual TLS 1.3 with pinned
 * certificates and runs one {@link ReceiveSession} per connection, which admits the primary ({@link
 * PeerAdmission}), stores its batches ({@link BatchReceiver}), takes resyncs ({@link
 * ResyncReceiver}) and switchovers ({@link HandoverReceiver}). This class owns the listener, the
 * event loops, the routes of the admitted peers and the status view.
 *
 * <p>Peers: each primary site (its certificate's CN) is routed to a {@link PeerRoute} of its own,
 * with its own volume chains and its own connection's back-pressure; a newer connection of a peer
 * replaces the older. Today a site configures one peer; several (each with its certificate, its
 * volumes — two may both have a "vol0" — and its state) need only more certificates in {@link
 * ReceiverConfig#peerCertificates()} and a catalog that answers for them: a cut, an overflow, a
 * resync or a slow failback of one never stalls another, since no event loop ever waits on storage.
 *
 * <p>Ordering: a volume's storage steps are chained per peer and outlive connections (see {@link
 * VolumeChain}); a reconnecting primary's WELCOME is computed only after the previous connection's
 * stores settled, so the resume point is exact. Stores not yet started when a connection ends are
 * dropped (the primary resends them after its next WELCOME). ACKs only ever increase per volume and
 * connection.
 *
 * <p>Failure: a malformed frame, a failed TLS handshake, a refused HELLO, a failed store or a
 * silent peer closes only that connection, with one log line naming the peer and the reason (and a
 * REFUSE carrying the reason when TLS is up); the listener keeps serving everyone else.
 *
 * <p>Back-pressure: more than {@code maxUnstoredBytes} received but not yet durable on one
 * connection stops reading from it until storage catches up ({@link InflowGate}; the primary's
 * window bounds it too).
 *
 * <p>Threads: {@code kagami-recv-<site>-accept-0} accepts; {@code kagami-recv-<site>-io-N} (see
 * {@link ReceiverConfig#ioThreads()}) handle connections and never block: every call into storage
 * ({@link ReceiveSink}, {@link ReceiverCatalog#handover}) returns a future at once and does its
 * disk work on the storage side's own threads, and the outcome comes back to the event loop. {@link
 * #start()} and {@link #close()} block the caller (binding; closing waits up to 10 s for stores
 * under way). After {@link #close()} returns, no sink is called any more.
 */
public final class Receiver implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Receiver.class.getName());
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(10);

  private enum State {
    NEW,
    RUNNING,
    CLOSED
  }

  private record Failure(String reason, Instant at) {}

  private final ReceiverConfig config;
  private final ReceiverCatalog catalog;
  private final InstantSource clock;
  private final SslContext ssl;
  private final PeerLog peerLog;
  private final ByteCounter wire = new ByteCounter();
  private final LongAdder rawBytes = new LongAdder();
  private final Map<String, PeerRoute> routes = new ConcurrentHashMap<>();
  private final Set<ReceiveSession> sessions = ConcurrentHashMap.newKeySet();
  private State state = State.NEW; // guarded by this
  private volatile boolean closing;
  private volatile EventLoopGroup boss;
  private volatile EventLoopGroup workers;
  private volatile Channel server;
  private volatile Failure lastFailure;

  public Receiver(ReceiverConfig config, ReceiverCatalog catalog) {
    this(config, catalog, SystemTime.WALL);
  }

  /** {@code clock} stamps errors and connections. */
  public Receiver(ReceiverConfig config, ReceiverCatalog catalog, InstantSource clock) {
    this(config, catalog, clock, new PeerLog(SystemTime.NANO));
  }

  /**
   * {@code peerLog} limits the lines logged about each client address; a site passes the one it
   * keeps for its lifetime, so its dropped-lines count survives the receivers role changes create.
   */
  public Receiver(
      ReceiverConfig config, ReceiverCatalog catalog, InstantSource clock, PeerLog peerLog) {
    this.peerLog = Objects.requireNonNull(peerLog, "peerLog");
    this.config = Objects.requireNonNull(config, "config");
    this.catalog = Objects.requireNonNull(catalog, "catalog");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.ssl = Tls.server(config.credentials(), config.peerCertificates());
  }

  /** Binds the listener; throws with the address when it cannot. */
  public synchronized void start() {
    if (state != State.NEW) {
      throw new IllegalStateException(
          "the WAN receiver is " + state.name().toLowerCase(Locale.ROOT) + "; it starts once");
    }
    state = State.RUNNING;
    String site = config.siteId();
    boss =
        new MultiThreadIoEventLoopGroup(
            1,
            Thread.ofPlatform().name("kagami-recv-" + site + "-accept-", 0).daemon(true).factory(),
            NioIoHandler.newFactory());
    workers =
        new MultiThreadIoEventLoopGroup(
            config.ioThreads(),
            Thread.ofPlatform().name("kagami-recv-" + site + "-io-", 0).daemon(true).factory(),
            NioIoHandler.newFactory());
    ServerBootstrap b =
        new ServerBootstrap()
            .group(boss, workers)
            .channel(NioServerSocketChannel.class)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(pipeline());
    try {
      server = b.bind(config.host(), config.port()).sync().channel();
    } catch (Exception e) {
      close();
      throw new IllegalStateException(
          "cannot listen for WAN connections on "
              + config.host()
              + ":"
              + config.port()
              + ": "
              + Tls.explain(e),
          e);
    }
    LOG.log(
        Level.INFO, "WAN receiver of {0} listening on {1}", site, address(server.localAddress()));
  }

  /** The pipeline of an accepted connection: byte count, TLS, frames, heartbeats, the session. */
  private ChannelInitializer<SocketChannel> pipeline() {
    // The same stages, in the same order, as the shipper's end (WanPipeline).
    WanPipeline pipeline =
        WanPipeline.server(wire, ssl, config.maxFrameBytes(), config.heartbeat());
    return new ChannelInitializer<SocketChannel>() {
      @Override
      protected void initChannel(SocketChannel ch) {
        pipeline.install(ch, "session", new ReceiveSession(Receiver.this));
      }
    };
  }

  /** The port listened on (the actual one when configured as 0). */
  public int port() {
    Channel s = server;
    if (s == null) {
      throw new IllegalStateException("the WAN receiver is not listening");
    }
    return ((InetSocketAddress) s.localAddress()).getPort();
  }

  /** Site ids of the primaries connected now (WELCOME sent). */
  public Set<String> connectedPeers() {
    Set<String> ids = new HashSet<>();
    for (PeerRoute r : routes.values()) {
      ReceiveSession s = r.session();
      if (s != null && s.welcomed()) {
        ids.add(r.siteId());
      }
    }
    return Set.copyOf(ids);
  }

  public long wireBytesReceived() {
    return wire.read();
  }

  public String lastError() {
    Failure f = lastFailure;
    return f == null ? null : f.reason();
  }

  /** Connected peers, per volume the last durable seq, bytes received, the last error. */
  public ReceiverSnapshot snapshot() {
    List<ReceiverSnapshot.Peer> ps = new ArrayList<>();
    List<ReceiverSnapshot.Volume> vs = new ArrayList<>();
    for (PeerRoute r : routes.values()) {
      ReceiveSession s = r.session();
      if (s != null && s.welcomed()) {
        ps.add(new ReceiverSnapshot.Peer(r.siteId(), s.remote(), s.since()));
      }
      for (VolumeChain c : r.chains()) {
        ReceiveSession owner = c.owner();
        vs.add(
            new ReceiverSnapshot.Volume(
                c.peer(),
                c.volume(),
                c.durable(),
                owner != null && owner.welcomed() && !owner.closed()));
      }
    }
    ps.sort(Comparator.comparing(ReceiverSnapshot.Peer::siteId));
    vs.sort(
        Comparator.comparing(ReceiverSnapshot.Volume::sourceSiteId)
            .thenComparing(ReceiverSnapshot.Volume::volume));
    Channel s = server;
    Failure f = lastFailure;
    return new ReceiverSnapshot(
        s == null ? config.host() + ":" + config.port() : address(s.localAddress()),
        ps,
        vs,
        wire.read(),
        rawBytes.sum(),
        f == null ? null : f.reason(),
        f == null ? null : f.at());
  }

  /**
   * Ends the connection of primary {@code siteId}, if it has one, and completes once the storage
   * steps of its volumes under way have settled: from then on no sink of that peer is called for
   * the ended connection. Whether a new connection of the peer is admitted is the catalog's to say
   * (an N:1 standby that promoted that peer's volumes refuses it). No other peer's connection,
   * chains or back-pressure is touched. Never blocks.
   */
  public CompletableFuture<Void> disconnect(String siteId) {
    PeerRoute r = routes.get(siteId);
    if (r == null) {
      return CompletableFuture.completedFuture(null);
    }
    ReceiveSession s = r.session();
    if (s != null) {
      s.retire(); // first: no store of it starts from here on
      LOG.log(Level.INFO, "WAN peer {0}: connection ended by this site", siteId);
    }
    List<CompletableFuture<?>> pending = new ArrayList<>();
    for (VolumeChain c : r.chains()) {
      pending.add(c.settled());
    }
    return CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new));
  }

  // ---- for the sessions (event loops) ----

  ReceiverConfig config() {
    return config;
  }

  ReceiverCatalog catalog() {
    return catalog;
  }

  /** The per-address limit of this receiver's lines about its clients. */
  public PeerLog peerLog() {
    return peerLog;
  }

  InstantSource clock() {
    return clock;
  }

  boolean closing() {
    return closing;
  }

  /** The route of the peer {@code siteId}, created when it is first admitted. */
  PeerRoute route(String siteId) {
    return routes.computeIfAbsent(siteId, PeerRoute::new);
  }

  void opened(ReceiveSession session) {
    sessions.add(session);
  }

  void ended(ReceiveSession session) {
    sessions.remove(session);
    String site = session.siteId();
    if (site != null) {
      PeerRoute r = routes.get(site);
      if (r != null) {
        r.detach(session);
      }
    }
  }

  void failed(String reason) {
    lastFailure = new Failure(reason, clock.instant());
  }

  void receivedRaw(long bytes) {
    rawBytes.add(bytes);
  }

  static String address(SocketAddress a) {
    if (a instanceof InetSocketAddress i) {
      return i.getHostString() + ":" + i.getPort();
    }
    return String.valueOf(a);
  }

  /**
   * Stops listening, closes every connection, waits (up to 10 s) for stores under way, then stops
   * the event loops; idempotent. No sink is called after it returns.
   */
  @Override
  public synchronized void close() {
    if (state == State.CLOSED) {
      return;
    }
    state = State.CLOSED;
    closing = true;
    for (ReceiveSession session : sessions) {
      session.retire(); // first: no store starts from here on
    }
    Channel s = server;
    if (s != null) {
      s.close().syncUninterruptibly();
    }
    List<CompletableFuture<?>> pending = new ArrayList<>();
    for (PeerRoute r : routes.values()) {
      for (VolumeChain c : r.chains()) {
        pending.add(c.settled());
      }
    }
    try {
      CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new))
          .get(CLOSE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      LOG.log(
          Level.WARNING,
          "WAN receiver: stores still running {0} s after close; not waiting longer",
          Long.toString(CLOSE_WAIT.toSeconds()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      // cannot happen: settled() never fails
    }
    EventLoopGroup w = workers;
    if (w != null) {
      w.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
    EventLoopGroup b = boss;
    if (b != null) {
      b.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }
}
