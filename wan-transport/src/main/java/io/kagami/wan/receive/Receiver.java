package io.kagami.wan.receive;

import io.kagami.clock.SystemTime;
import io.kagami.wan.frame.ByteCounter;
import io.kagami.wan.frame.MalformedFrameException;
import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.pipeline.WanPipeline;
import io.kagami.wan.tls.SiteCredentials;
import io.kagami.wan.tls.Tls;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * The standby's end of the WAN link: accepts primaries over mutual TLS 1.3 with pinned
 * certificates, checks each HELLO against the certificate that presented it and against the
 * {@link ReceiverCatalog}, answers WELCOME with each volume's last durable sequence number, then
 * stores every BATCH through the volume's {@link ReceiveSink} and acknowledges it once durable.
 *
 * <p>Ordering: a volume's steps are chained — a step starts when the previous completed — and
 * the chain outlives connections. Consecutive BATCH stores are the exception: each is handed to
 * the journal as soon as the previous one was handed over, without waiting for it to be durable,
 * so one journal sync covers every batch that arrived meanwhile (the journal keeps their order and
 * completes them in it). Waiting for each made the standby one sync per batch: with 1 MiB writes,
 * one sync per MiB. The chain: a reconnecting primary's WELCOME is computed only after the
 * previous connection's stores settled, so the resume point is exact. Stores not yet started when
 * a connection ends are dropped (the primary resends them after its next WELCOME). ACKs only ever
 * increase per volume and connection.
 *
 * <p>Failure: a malformed frame, a failed TLS handshake, a refused HELLO, a failed store or a
 * silent peer closes only that connection, with one log line naming the peer and the reason (and a
 * REFUSE carrying the reason when TLS is up); the listener keeps serving everyone else.
 *
 * <p>Back-pressure: more than {@code maxUnstoredBytes} received but not yet durable on one
 * connection stops reading from it until storage catches up (the primary's window bounds it too).
 *
 * <p>Threads: {@code kagami-recv-<site>-accept-0} accepts; {@code kagami-recv-<site>-io-N}
 * handle connections and never block; stores complete on the sinks' threads. After {@link
 * #close()} returns, no sink is called any more.
 */
public final class Receiver implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Receiver.class.getName());
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(10);
  /** Resync regions are acknowledged after a sync of the replica at most this many regions or bytes apart. */
  static final int REGIONS_PER_SYNC = 128;
  static final long REGION_BYTES_PER_SYNC = 4L << 20;

  private enum State {
    NEW,
    RUNNING,
    CLOSED
  }

  private record Failure(String reason, Instant at) {}

  private record VolumeKey(String site, String volume) {}

  /** One replicated volume, across connections: its stores chain here. */
  private static final class Slot {
    final VolumeKey key;
    /** Completes when every step chained so far has completed; guarded by this. */
    CompletableFuture<?> tail = CompletableFuture.completedFuture(null);
    /** Completes when every step chained so far has at least been started; guarded by this. */
    CompletableFuture<?> started = tail;
    volatile long durable = -1;
    volatile Session owner;

    Slot(VolumeKey key) {
      this.key = key;
    }

    synchronized void durable(long seq) {
      if (seq > durable) {
        durable = seq;
      }
    }
  }

  private final ReceiverConfig config;
  private final ReceiverCatalog catalog;
  private final InstantSource clock;
  private final SslContext ssl;
  private final ByteCounter wire = new ByteCounter();
  private final LongAdder rawBytes = new LongAdder();
  private final Map<String, Session> peers = new ConcurrentHashMap<>();
  private final Set<Session> sessions = ConcurrentHashMap.newKeySet();
  private final Map<VolumeKey, Slot> slots = new ConcurrentHashMap<>();
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
    this.config = Objects.requireNonNull(config, "config");
    this.catalog = Objects.requireNonNull(catalog, "catalog");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.ssl = Tls.server(config.credentials(), config.peerCertificates());
  }

  /** Binds the listener; throws with the address when it cannot. */
  public synchronized void start() {
    if (state != State.NEW) {
      throw new IllegalStateException("the WAN receiver is " + state.name().toLowerCase(java.util.Locale.ROOT) + "; it starts once");
    }
    state = State.RUNNING;
    String site = config.siteId();
    WanPipeline pipeline = WanPipeline.server(wire, ssl, config.maxFrameBytes(), config.heartbeat());
    boss = new MultiThreadIoEventLoopGroup(1, Thread.ofPlatform().name("kagami-recv-" + site + "-accept-", 0).daemon(true).factory(), NioIoHandler.newFactory());
    workers = new MultiThreadIoEventLoopGroup(2, Thread.ofPlatform().name("kagami-recv-" + site + "-io-", 0).daemon(true).factory(), NioIoHandler.newFactory());
    ServerBootstrap b =
        new ServerBootstrap()
            .group(boss, workers)
            .channel(NioServerSocketChannel.class)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    pipeline.install(ch, "session", new Session());
                  }
                });
    try {
      server = b.bind(config.host(), config.port()).sync().channel();
    } catch (Exception e) {
      close();
      throw new IllegalStateException("cannot listen for WAN connections on " + config.host() + ":" + config.port() + ": " + Tls.explain(e), e);
    }
    LOG.log(Level.INFO, "WAN receiver of {0} listening on {1}", site, address(server.localAddress()));
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
    for (Session s : peers.values()) {
      if (s.welcomed) {
        ids.add(s.siteId);
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
    for (Session s : peers.values()) {
      if (s.welcomed) {
        ps.add(new ReceiverSnapshot.Peer(s.siteId, s.remote, s.since));
      }
    }
    ps.sort(Comparator.comparing(ReceiverSnapshot.Peer::siteId));
    List<ReceiverSnapshot.Volume> vs = new ArrayList<>();
    for (Slot slot : slots.values()) {
      Session owner = slot.owner;
      vs.add(new ReceiverSnapshot.Volume(slot.key.site(), slot.key.volume(), slot.durable, owner != null && owner.welcomed && !owner.closed));
    }
    vs.sort(Comparator.comparing(ReceiverSnapshot.Volume::sourceSiteId).thenComparing(ReceiverSnapshot.Volume::volume));
    Channel s = server;
    Failure f = lastFailure;
    return new ReceiverSnapshot(
        s == null ? config.host() + ":" + config.port() : address(s.localAddress()), ps, vs, wire.read(), rawBytes.sum(), f == null ? null : f.reason(), f == null ? null : f.at());
  }

  private static String address(SocketAddress a) {
    if (a instanceof InetSocketAddress i) {
      return i.getHostString() + ":" + i.getPort();
    }
    return String.valueOf(a);
  }

  private static Throwable unwrap(Throwable t) {
    while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  /** One primary's connection. Its state lives on its event loop unless marked volatile. */
  private final class Session extends SimpleChannelInboundHandler<WanMessage> {
    private ChannelHandlerContext ctx;
    private volatile boolean closed; // no more stores for this connection
    private volatile boolean retired; // closed by this side: replaced by a newer connection, or shutting down
    private volatile boolean welcomed;
    private volatile String siteId;
    private volatile String remote = "?";
    private volatile Instant since;
    private boolean failed;
    private boolean helloSeen;
    private Map<String, Lane> lanes;
    private long unstored;

    /** One volume on this connection. */
    private final class Lane {
      final Slot slot;
      final ReceiveSink sink;
      final String volume;
      long acked;
      // Resync: regions received since the last RESYNC, and how many of them were acknowledged.
      long regionsReceived;
      long regionsAckRequested;
      long regionBytesSinceSync;
      long resyncBase;

      Lane(Slot slot, ReceiveSink sink) {
        this.slot = slot;
        this.sink = sink;
        this.volume = slot.key.volume();
      }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
      this.ctx = ctx;
      this.remote = address(ctx.channel().remoteAddress());
      sessions.add(this);
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WanMessage msg) {
      if (closed) {
        return;
      }
      switch (msg) {
        case WanMessage.Hello h -> hello(h);
        case WanMessage.Batch b -> batch(b);
        case WanMessage.Resync r -> resync(r);
        case WanMessage.Region r -> region(r);
        case WanMessage.RegionSum r -> regionSum(r);
        case WanMessage.RegionWanted w -> fail("a primary sent REGION_WANTED, which only a standby sends", true);
        case WanMessage.ResyncEnd e -> resyncEnd(e);
        case WanMessage.RegionsDurable d -> fail("a primary sent REGIONS_DURABLE, which only a standby sends", true);
        case WanMessage.Heartbeat h -> flushRegionAcks();
        case WanMessage.Refuse r -> fail("the primary gave up the link: " + r.reason(), false);
        case WanMessage.Welcome w -> fail("a primary sent a WELCOME, which only a standby sends", true);
        case WanMessage.Ack a -> fail("a primary sent an ACK, which only a standby sends", true);
        case WanMessage.Handover h -> handover(h);
        case WanMessage.HandedOver h -> fail("a primary sent HANDED_OVER, which only a standby sends", true);
      }
    }

    private void hello(WanMessage.Hello h) {
      if (helloSeen) {
        fail("second HELLO on one connection", true);
        return;
      }
      helloSeen = true;
      if (closing) {
        fail("the standby is shutting down", true);
        return;
      }
      if (h.version() != WanCodec.VERSION) {
        fail("protocol version " + h.version() + " is not supported (this side speaks version " + WanCodec.VERSION + ")", true);
        return;
      }
      String cn;
      try {
        Certificate[] chain = ctx.pipeline().get(SslHandler.class).engine().getSession().getPeerCertificates();
        cn = SiteCredentials.commonName((X509Certificate) chain[0]);
      } catch (SSLPeerUnverifiedException e) {
        fail("no verified client certificate", true);
        return;
      }
      if (!cn.equals(h.siteId())) {
        fail("HELLO claims site \"" + h.siteId() + "\" but the certificate is for \"" + cn + "\"", true);
        return;
      }
      Map<String, ReceiveSink> sinks = new LinkedHashMap<>();
      for (WanMessage.VolumeOffer v : h.volumes()) {
        if (sinks.containsKey(v.name())) {
          fail("HELLO offers volume " + v.name() + " twice", true);
          return;
        }
        ReceiveSink sink;
        try {
          sink = catalog.sink(h.siteId(), v.name(), v.sizeBytes());
        } catch (LinkRefusedException e) {
          fail(e.getMessage(), true);
          return;
        } catch (RuntimeException e) {
          fail("the standby cannot look up volume " + v.name() + ": " + Tls.explain(e), true);
          return;
        }
        if (sink == null) {
          fail("the standby has no journal for volume " + v.name(), true);
          return;
        }
        try {
          sink.acceptGeneration(v.generation(), v.priorGeneration(), v.priorGenerationEnd());
        } catch (LinkRefusedException e) {
          fail(e.getMessage(), true);
          return;
        }
        sinks.put(v.name(), sink);
      }
      siteId = h.siteId();
      Session previous = peers.put(siteId, this);
      if (previous != null && previous != this) {
        // A primary reconnecting over a half-open connection: the new link wins.
        LOG.log(Level.INFO, "WAN peer {0} reconnected from {1}; closing its previous connection from {2}", siteId, remote, previous.remote);
        previous.retire();
      }
      // Each volume resumes where its journal stands once everything queued before has settled.
      Map<String, Lane> newLanes = new LinkedHashMap<>();
      Map<String, CompletableFuture<Long>> resumes = new LinkedHashMap<>();
      for (Map.Entry<String, ReceiveSink> e : sinks.entrySet()) {
        Slot slot = slots.computeIfAbsent(new VolumeKey(siteId, e.getKey()), Slot::new);
        ReceiveSink sink = e.getValue();
        CompletableFuture<Long> resume;
        synchronized (slot) {
          if (closed) {
            return;
          }
          resume = slot.tail.handle((x, err) -> null).thenApply(x -> sink.lastDurableSeq());
          slot.tail = resume;
          slot.started = resume;
          slot.owner = this;
        }
        newLanes.put(e.getKey(), new Lane(slot, sink));
        resumes.put(e.getKey(), resume);
      }
      CompletableFuture.allOf(resumes.values().toArray(CompletableFuture[]::new)).whenComplete((x, err) -> onLoop(() -> welcome(newLanes, resumes, err)));
    }

    private void welcome(Map<String, Lane> newLanes, Map<String, CompletableFuture<Long>> resumes, Throwable err) {
      if (closed) {
        return;
      }
      if (err != null) {
        fail("cannot read where the volumes resume: " + Tls.explain(unwrap(err)), true);
        return;
      }
      List<WanMessage.VolumeResume> list = new ArrayList<>();
      StringJoiner from = new StringJoiner(", ");
      for (Lane lane : newLanes.values()) {
        long seq = resumes.get(lane.volume).join();
        lane.acked = seq;
        lane.slot.durable(seq);
        list.add(new WanMessage.VolumeResume(lane.volume, seq, lane.sink.generation(), lane.sink.diverged()));
        from.add(lane.volume + " after seq " + seq);
      }
      lanes = newLanes;
      since = clock.instant();
      welcomed = true;
      LOG.log(Level.INFO, "WAN peer {0} ({1}) connected; resuming {2}", siteId, remote, from.length() == 0 ? "no volumes" : from.toString());
      ctx.writeAndFlush(new WanMessage.Welcome(config.siteId(), list), ctx.voidPromise());
    }

    private void batch(WanMessage.Batch b) {
      Lane lane = lane("BATCH", b.volume());
      if (lane == null) {
        return;
      }
      long bytes = b.rawBytes();
      received(bytes);
      CompletableFuture<Long> stored = chainStore(lane, () -> lane.sink.store(b.entries()));
      if (stored != null) {
        stored.whenComplete((seq, err) -> onLoop(() -> stored(lane, b, bytes, seq, err)));
      }
    }

    /** Counts bytes received but not yet durable; stops reading the connection past the bound. */
    private void received(long bytes) {
      rawBytes.add(bytes);
      unstored += bytes;
      if (unstored > config.maxUnstoredBytes() && ctx.channel().config().isAutoRead()) {
        ctx.channel().config().setAutoRead(false);
      }
    }

    /** Bytes of {@link #received} that settled (stored or failed); reads again below half the bound. */
    private void settled(long bytes) {
      unstored -= bytes;
      if (!ctx.channel().config().isAutoRead() && unstored <= config.maxUnstoredBytes() / 2) {
        ctx.channel().config().setAutoRead(true);
      }
    }

    private void stored(Lane lane, WanMessage.Batch b, long bytes, Long seq, Throwable err) {
      settled(bytes);
      if (closed) {
        return;
      }
      if (err != null) {
        fail("storing volume " + lane.volume + " seqs " + b.firstSeq() + ".." + b.lastSeq() + " failed: " + Tls.explain(unwrap(err)), true);
        return;
      }
      if (seq == null || seq < b.lastSeq()) {
        fail("the journal of volume " + lane.volume + " reports seq " + seq + " durable after storing through seq " + b.lastSeq(), true);
        return;
      }
      lane.slot.durable(seq);
      if (seq > lane.acked) {
        lane.acked = seq;
        ctx.writeAndFlush(new WanMessage.Ack(lane.volume, seq), ctx.voidPromise());
      }
    }

    /** The lane of {@code volume}, or null after failing the connection for a frame out of place. */
    private Lane lane(String frame, String volume) {
      if (lanes == null) {
        fail(frame + " before " + (helloSeen ? "WELCOME" : "HELLO"), true);
        return null;
      }
      Lane lane = lanes.get(volume);
      if (lane == null) {
        fail(frame + " for volume " + volume + ", which was not offered in HELLO", true);
      }
      return lane;
    }

    /** Queues {@code step} behind everything queued for the lane's volume; null when closed. */
    private <T> CompletableFuture<T> chain(Lane lane, java.util.function.Supplier<CompletableFuture<T>> step) {
      synchronized (lane.slot) {
        if (closed) {
          return null;
        }
        CompletableFuture<T> next =
            lane.slot.tail.thenCompose(x -> closed ? CompletableFuture.failedFuture(new CancellationException("connection closed")) : step.get());
        lane.slot.tail = next;
        lane.slot.started = next;
        return next;
      }
    }

    /**
     * Chains a BATCH store: started once the previous step was started (at once after another
     * batch, whose store is queued in the journal in order), completed when it is durable.
     */
    private CompletableFuture<Long> chainStore(Lane lane, java.util.function.Supplier<CompletableFuture<Long>> store) {
      synchronized (lane.slot) {
        if (closed) {
          return null;
        }
        // A chain of its own, one link per store, so stores start in exactly the order chained.
        CompletableFuture<CompletableFuture<Long>> start =
            lane.slot.started.thenApply(x -> closed ? CompletableFuture.<Long>failedFuture(new CancellationException("connection closed")) : store.get());
        CompletableFuture<Long> done = start.thenCompose(f -> f);
        lane.slot.started = start;
        lane.slot.tail = CompletableFuture.allOf(lane.slot.tail, done);
        return done;
      }
    }

    private void resync(WanMessage.Resync r) {
      Lane lane = lane("RESYNC", r.volume());
      if (lane == null) {
        return;
      }
      lane.regionsReceived = 0;
      lane.regionsAckRequested = 0;
      lane.regionBytesSinceSync = 0;
      lane.resyncBase = r.baseSeq();
      LOG.log(Level.INFO, "WAN peer {0}: volume {1} is being resynchronized from seq {2}; the replica is inconsistent until it completes", siteId, lane.volume, r.baseSeq());
      CompletableFuture<Void> done = chain(lane, () -> lane.sink.beginResync(r.baseSeq()));
      if (done != null) {
        done.whenComplete((x, err) -> onLoop(() -> {
          if (err != null && !closed) {
            fail("starting the resync of volume " + lane.volume + " at seq " + r.baseSeq() + " failed: " + Tls.explain(unwrap(err)), true);
          } else if (err == null) {
            lane.slot.durable(r.baseSeq());
          }
        }));
      }
    }

    private void region(WanMessage.Region r) {
      Lane lane = regionLane("REGION", r.volume(), r.offset(), r.length());
      if (lane == null) {
        return;
      }
      received(r.length());
      lane.regionsReceived++;
      lane.regionBytesSinceSync += r.length();
      int bytes = r.length();
      CompletableFuture<Void> stored = chain(lane, () -> lane.sink.storeRegion(r.offset(), r.length(), r.data()));
      if (stored == null) {
        return;
      }
      stored.whenComplete((x, err) -> onLoop(() -> {
        settled(bytes);
        if (err != null && !closed) {
          fail("writing a region of volume " + lane.volume + " at offset " + r.offset() + " failed: " + Tls.explain(unwrap(err)), true);
        }
      }));
      // Acknowledge in groups: one sync of the replica covers many regions.
      if (lane.regionsReceived - lane.regionsAckRequested >= REGIONS_PER_SYNC || lane.regionBytesSinceSync >= REGION_BYTES_PER_SYNC) {
        syncAndAckRegions(lane);
      }
    }

    /** Like {@link #lane}, and fails the connection for a region beyond the volume's end. */
    private Lane regionLane(String frame, String volume, long offset, int length) {
      Lane lane = lane(frame, volume);
      if (lane != null && (offset + length > lane.sink.sizeBytes() || offset + length < 0)) {
        fail(frame + " " + offset + "+" + length + " of volume " + lane.volume + " is beyond its size of " + lane.sink.sizeBytes() + " bytes", true);
        return null;
      }
      return lane;
    }

    private void regionSum(WanMessage.RegionSum r) {
      Lane lane = regionLane("REGION_SUM", r.volume(), r.offset(), r.length());
      if (lane == null) {
        return;
      }
      lane.regionsReceived++;
      CompletableFuture<Boolean> same = chain(lane, () -> lane.sink.regionMatches(r.offset(), r.length(), r.sum()));
      if (same == null) {
        return;
      }
      same.whenComplete((match, err) -> onLoop(() -> {
        if (closed) {
          return;
        }
        if (err != null) {
          fail("comparing a region of volume " + lane.volume + " at offset " + r.offset() + " failed: " + Tls.explain(unwrap(err)), true);
        } else if (!match) {
          ctx.writeAndFlush(new WanMessage.RegionWanted(lane.volume, r.offset()), ctx.voidPromise());
        }
      }));
      if (lane.regionsReceived - lane.regionsAckRequested >= REGIONS_PER_SYNC * 8) {
        syncAndAckRegions(lane);
      }
    }

    /** A heartbeat asks for every region not acknowledged yet (a primary waiting for the last ones). */
    private void flushRegionAcks() {
      if (lanes == null) {
        return;
      }
      for (Lane lane : lanes.values()) {
        if (lane.regionsReceived > lane.regionsAckRequested) {
          syncAndAckRegions(lane);
        }
      }
    }

    private void syncAndAckRegions(Lane lane) {
      long count = lane.regionsReceived;
      lane.regionsAckRequested = count;
      lane.regionBytesSinceSync = 0;
      CompletableFuture<Void> synced = chain(lane, lane.sink::syncRegions);
      if (synced != null) {
        synced.whenComplete((x, err) -> onLoop(() -> {
          if (closed) {
            return;
          }
          if (err != null) {
            fail("syncing resynchronized regions of volume " + lane.volume + " failed: " + Tls.explain(unwrap(err)), true);
            return;
          }
          ctx.writeAndFlush(new WanMessage.RegionsDurable(lane.volume, count), ctx.voidPromise());
        }));
      }
    }

    /**
     * Planned switchover: once everything queued for the named volumes has settled, the catalog
     * takes over (records this site as primary); HANDED_OVER tells the old primary to step down.
     */
    private void handover(WanMessage.Handover h) {
      if (lanes == null) {
        fail("HANDOVER before " + (helloSeen ? "WELCOME" : "HELLO"), true);
        return;
      }
      Map<String, Long> ends = new LinkedHashMap<>();
      List<CompletableFuture<?>> settled = new ArrayList<>();
      for (WanMessage.VolumeEnd v : h.volumes()) {
        Lane lane = lanes.get(v.name());
        if (lane == null) {
          fail("HANDOVER names volume " + v.name() + ", which was not offered in HELLO", true);
          return;
        }
        ends.put(v.name(), v.endSeq());
        synchronized (lane.slot) {
          settled.add(lane.slot.tail.handle((x, err) -> null));
        }
      }
      if (ends.size() != lanes.size()) {
        fail("HANDOVER names " + ends.size() + " of the " + lanes.size() + " volumes of this link; a switchover hands over all of them", true);
        return;
      }
      String site = siteId;
      LOG.log(Level.INFO, "WAN peer {0}: switchover requested; taking over {1}", site, ends);
      CompletableFuture.allOf(settled.toArray(CompletableFuture[]::new))
          .thenCompose(x -> catalog.handover(site, ends))
          .whenComplete((x, err) -> onLoop(() -> {
            if (err != null) {
              fail("switchover refused: " + Tls.explain(unwrap(err)), true);
            } else if (!closed) {
              ctx.writeAndFlush(new WanMessage.HandedOver()).addListener(w -> catalog.handedOver(site));
            }
          }));
    }

    private void resyncEnd(WanMessage.ResyncEnd e) {
      Lane lane = lane("RESYNC_END", e.volume());
      if (lane == null) {
        return;
      }
      syncAndAckRegions(lane);
      CompletableFuture<Void> done = chain(lane, () -> lane.sink.endResync(e.consistentAtSeq()));
      if (done != null) {
        done.whenComplete((x, err) -> onLoop(() -> {
          if (err != null && !closed) {
            fail("ending the resync of volume " + lane.volume + " failed: " + Tls.explain(unwrap(err)), true);
          } else if (err == null) {
            LOG.log(Level.INFO, "WAN peer {0}: volume {1}: all {2} regions of the resync received; consistent once seq {3} is applied", siteId, lane.volume, lane.regionsReceived, e.consistentAtSeq());
            // The regions, now durable, hold every change through the base: acknowledge it.
            if (lane.resyncBase > lane.acked) {
              lane.acked = lane.resyncBase;
              ctx.writeAndFlush(new WanMessage.Ack(lane.volume, lane.resyncBase), ctx.voidPromise());
            }
          }
        }));
      }
    }

    private void onLoop(Runnable r) {
      try {
        ctx.executor().execute(r);
      } catch (RejectedExecutionException e) {
        // Shutting down: the connection is gone with its event loop.
      }
    }

    /** Closes this connection for the reason given; logs once, sends a REFUSE when TLS is up. */
    private void fail(String reason, boolean refuse) {
      if (failed || retired) {
        // Already ending (failed, replaced or shutting down): what follows is an echo of that.
        closed = true;
        failed = true;
        ctx.close();
        return;
      }
      closed = true;
      failed = true;
      lastFailure = new Failure(reason, clock.instant());
      LOG.log(Level.WARNING, "WAN peer {0}{1}: {2}; closing the connection", remote, siteId == null ? "" : " (" + siteId + ")", reason);
      SslHandler tls = ctx.pipeline().get(SslHandler.class);
      if (refuse && ctx.channel().isActive() && tls != null && tls.handshakeFuture().isSuccess()) {
        ctx.writeAndFlush(new WanMessage.Refuse(reason)).addListener(ChannelFutureListener.CLOSE);
      } else {
        ctx.close();
      }
    }

    /** Ends this connection from outside its event loop: replaced by a newer one, or closing. */
    void retire() {
      retired = true;
      closed = true;
      ChannelHandlerContext c = ctx;
      if (c != null) {
        c.channel().close();
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt instanceof SslHandshakeCompletionEvent e && !e.isSuccess()) {
        fail("TLS handshake failed: " + Tls.explain(e.cause()), false);
      } else if (evt instanceof IdleStateEvent e) {
        // While reads are paused for storage to catch up, silence is ours, not the primary's.
        if (e.state() == IdleState.READER_IDLE && ctx.channel().config().isAutoRead()) {
          fail("no frame for " + config.heartbeat().multipliedBy(3).toMillis() + " ms", true);
        } else if (e.state() == IdleState.WRITER_IDLE && welcomed) {
          ctx.writeAndFlush(new WanMessage.Heartbeat(), ctx.voidPromise());
        }
      }
      super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      if (cause instanceof MalformedFrameException m) {
        fail(m.getMessage(), true);
      } else {
        fail(Tls.explain(cause), false);
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      closed = true;
      sessions.remove(this);
      if (siteId != null) {
        peers.remove(siteId, this);
        if (!failed && welcomed) {
          LOG.log(Level.INFO, "WAN peer {0} ({1}) disconnected", siteId, remote);
        }
      }
      super.channelInactive(ctx);
    }
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
    for (Session session : sessions) {
      session.retire(); // first: no store starts from here on
    }
    Channel s = server;
    if (s != null) {
      s.close().syncUninterruptibly();
    }
    List<CompletableFuture<?>> pending = new ArrayList<>();
    for (Slot slot : slots.values()) {
      synchronized (slot) {
        pending.add(slot.tail.handle((x, e) -> null));
      }
    }
    try {
      CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).get(CLOSE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      LOG.log(Level.WARNING, "WAN receiver: stores still running {0} s after close; not waiting longer", Long.toString(CLOSE_WAIT.toSeconds()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      // handled above: failures were mapped to null
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
