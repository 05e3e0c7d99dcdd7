package io.kagami.wan.ship;

import io.kagami.clock.NanoClock;
import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.pipeline.WanPipeline;
import io.kagami.wan.tls.HandshakeFailure;
import io.kagami.wan.tls.Tls;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The thread {@code kagami-ship-<peer>} of one shipper and the connection cycle it runs:
 *
 * <pre>
 *   CONNECTING ──WELCOME applied──► SHIPPING ──link lost──► BACKING_OFF ──delay──► CONNECTING
 *        └──────────failed────────────────────────────────────────┘        (any) ──close──► CLOSED
 * </pre>
 *
 * CONNECTING connects (TCP, then TLS), says HELLO with the volumes' offers and applies the WELCOME
 * ({@link ResumeStep}); each step is bounded by {@link ShipperConfig#connectTimeout}. SHIPPING is a
 * duty cycle: {@link #doWork} gives each volume its turn (report what the standby holds, copy
 * regions or pump history) and returns the frames it sent; when it sent nothing the agent waits on
 * its {@link WakeSignal} for at most the shortest timer a volume asked for (batch delay, bandwidth
 * cap, retry) or a heartbeat. BACKING_OFF waits reconnectMin, doubling up to reconnectMax, reset
 * once a connection came up; only close cuts it short.
 *
 * <p>Threads: the agent thread does every journal read, region read, batch encoding and LZ4
 * compression, so it may block on disk (in {@link ShipSource} and {@link ResyncSource} calls) and
 * on the connection's futures while CONNECTING; never on the network while SHIPPING. One Netty
 * event loop ({@code kagami-ship-<peer>-io-0}), owned here too, runs the pipeline ({@link
 * WanPipeline}, then {@link InboundFrameHandler}); it never blocks.
 *
 * <p>Everything here belongs to one shipper, that is, one peer: its own thread, event loop, byte
 * counter and bandwidth cap. Several agents in one process share nothing but loggers.
 */
final class ShipperAgent {
  private static final System.Logger LOG =
      System.getLogger(Shipper.class.getName()); // the link's log, under the shipper's name
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(10);

  /** Where the connection cycle is. */
  enum ConnectionState {
    /** Not started. */
    NEW,
    /** Connecting, handshaking, or waiting for WELCOME. */
    CONNECTING,
    /** WELCOME applied: the duty cycle ships. */
    SHIPPING,
    /** The last connection failed or ended; waiting before the next attempt. */
    BACKING_OFF,
    /** Closed: the thread ended or is ending. */
    CLOSED
  }

  private final ShipperConfig config;
  private final String peer;
  private final String address;
  private final List<VolumeStream> volumes;
  private final Map<String, VolumeStream> byName;
  private final WanPipeline pipeline;
  private final WakeSignal wake;
  private final LinkFailures failures;
  private final WirePacer pacer;
  private final HandoverStep handover;
  private final NanoClock nanoClock;
  private final BatchPump batches;
  private final ResumeStep resume;
  private volatile ConnectionState state = ConnectionState.NEW;
  private volatile EventLoopGroup group;
  private volatile Thread thread;
  private volatile Channel channel;
  private volatile boolean connected; // WELCOME applied on the current connection, and it is up
  private volatile String peerSiteId;
  private long idleNanos; // agent: how long the last doWork() allows waiting

  ShipperAgent(
      ShipperConfig config,
      List<VolumeStream> volumes,
      Map<String, VolumeStream> byName,
      WanPipeline pipeline,
      WakeSignal wake,
      LinkFailures failures,
      WirePacer pacer,
      HandoverStep handover,
      NanoClock nanoClock) {
    this.config = config;
    this.peer = config.peerSiteId();
    this.address = config.host() + ":" + config.port();
    this.volumes = volumes;
    this.byName = byName;
    this.pipeline = pipeline;
    this.wake = wake;
    this.failures = failures;
    this.pacer = pacer;
    this.handover = handover;
    this.nanoClock = nanoClock;
    this.batches = new BatchPump(config, pacer);
    this.resume = new ResumeStep(peer, volumes, byName);
  }

  /** Starts the event loop and the agent thread. Called once, by {@link Shipper#start()}. */
  void start() {
    group =
        new MultiThreadIoEventLoopGroup(
            1,
            Thread.ofPlatform().name("kagami-ship-" + peer + "-io-", 0).daemon(true).factory(),
            NioIoHandler.newFactory());
    thread = Thread.ofPlatform().name("kagami-ship-" + peer).daemon(true).start(this::run);
  }

  ConnectionState state() {
    return state;
  }

  /** True while the current connection is up and its WELCOME was applied. */
  boolean connected() {
    return connected;
  }

  /** The standby's site id as its last WELCOME said; null before the first. */
  String peerSiteId() {
    return peerSiteId;
  }

  /** The current connection, or null; for a switchover, which writes on it. */
  Channel channel() {
    return channel;
  }

  private void run() {
    try {
      Duration delay = config.reconnectMin();
      while (!wake.closed() && !Thread.currentThread().isInterrupted()) {
        boolean wasUp = false;
        InboundFrameHandler handler =
            new InboundFrameHandler(byName, wake, handover, config.heartbeat());
        try {
          wasUp = connectAndShip(handler);
        } catch (IOException | RuntimeException e) {
          wasUp = connected;
          if (!wake.closed()) {
            failures.report(
                e instanceof IOException && e.getMessage() != null
                    ? e.getMessage()
                    : Tls.explain(e));
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          connected = false;
          handler.retire();
          Channel ch = channel;
          if (ch != null) {
            ch.close();
          }
        }
        if (wake.closed()) {
          break;
        }
        if (wasUp) {
          delay = config.reconnectMin();
        }
        state = ConnectionState.BACKING_OFF;
        try {
          wake.awaitBackoff(delay);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        delay =
            delay.multipliedBy(2).compareTo(config.reconnectMax()) > 0
                ? config.reconnectMax()
                : delay.multipliedBy(2);
      }
    } catch (Error e) {
      failures.report("the shipper stopped: " + e);
      throw e;
    } finally {
      state = ConnectionState.CLOSED;
    }
  }

  /** One connection: returns when closing, throws when the link fails; true once it was up. */
  private boolean connectAndShip(InboundFrameHandler handler)
      throws IOException, InterruptedException {
    state = ConnectionState.CONNECTING;
    int batch = config.maxBatchBytes();
    // Taken when the pipeline is built: a standby that closes at once empties the pipeline before
    // the connect future's waiter could look the TLS handler up, and the handshake future then
    // carries the reason (connection closed before the handshake) instead of a null.
    AtomicReference<Future<Channel>> handshake = new AtomicReference<>();
    Bootstrap b =
        new Bootstrap()
            .group(group)
            .channel(NioSocketChannel.class)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) config.connectTimeout().toMillis())
            .option(ChannelOption.TCP_NODELAY, true)
            .option(
                ChannelOption.WRITE_BUFFER_WATER_MARK,
                new WriteBufferWaterMark(2 * batch, 4 * batch))
            .handler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    pipeline.install(ch, "link", handler);
                    handshake.set(ch.pipeline().get(SslHandler.class).handshakeFuture());
                  }
                });
    ChannelFuture cf = b.connect(config.host(), config.port());
    Channel ch = cf.channel();
    channel = ch;
    if (wake.closed()) {
      ch.close();
      return false;
    }
    await(cf, "connecting to the standby at " + address);
    awaitHandshake(handshake.get());
    List<WanMessage.VolumeOffer> offers = new ArrayList<>();
    for (VolumeStream v : volumes) {
      VolumeGeneration g = v.source.generation();
      offers.add(
          new WanMessage.VolumeOffer(
              v.name, v.source.sizeBytes(), g.current(), g.prior(), g.priorEnd()));
    }
    ch.writeAndFlush(
        new WanMessage.Hello(WanCodec.VERSION, config.siteId(), offers), ch.voidPromise());
    WanMessage.Welcome w;
    try {
      w = handler.welcome().get(config.connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IOException(e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IOException(
          "the standby did not answer HELLO within " + config.connectTimeout().toMillis() + " ms");
    }
    resume.apply(w);
    peerSiteId = w.siteId();
    connected = true;
    failures.recovered();
    StringJoiner from = new StringJoiner(", ");
    for (VolumeStream v : volumes) {
      from.add(v.name + " after seq " + v.resumedFrom);
    }
    LOG.log(Level.INFO, "WAN link to {0} ({1}) up; resuming {2}", peer, address, from);
    state = ConnectionState.SHIPPING;
    while (!wake.closed() && ch.isActive() && !Thread.currentThread().isInterrupted()) {
      if (doWork(ch) == 0) {
        wake.awaitWork(idleNanos);
      }
    }
    if (!wake.closed()) {
      throw new IOException(handler.reason());
    }
    return true;
  }

  /**
   * The TLS handshake: fails with one line naming the true reason (the standby refused this site's
   * certificate, presented one that is not the paired one, or the connection closed before the
   * handshake completed), never a bare exception name.
   */
  private void awaitHandshake(Future<?> f) throws IOException, InterruptedException {
    long ms = config.connectTimeout().toMillis();
    if (!f.await(ms, TimeUnit.MILLISECONDS)) {
      throw new IOException("TLS handshake with the standby timed out after " + ms + " ms");
    }
    if (!f.isSuccess()) {
      HandshakeFailure why = HandshakeFailure.dialed(f.cause(), address);
      throw new IOException(
          why.closed() ? why.text() : "TLS handshake with the standby failed: " + why.text(),
          f.cause());
    }
  }

  private void await(Future<?> f, String what) throws IOException, InterruptedException {
    long ms = config.connectTimeout().toMillis();
    if (!f.await(ms, TimeUnit.MILLISECONDS)) {
      throw new IOException(what + " timed out after " + ms + " ms");
    }
    if (!f.isSuccess()) {
      throw new IOException(what + " failed: " + Tls.explain(f.cause()), f.cause());
    }
  }

  /**
   * One turn of the duty cycle: each volume reports what the standby holds, then ships what it may.
   * Returns the frames sent; sets {@link #idleNanos} to the shortest wait a volume asked for (never
   * longer than a heartbeat), for when it returns 0.
   */
  int doWork(Channel ch) {
    long now = nanoClock.nanoTime();
    long wait = config.heartbeat().toNanos();
    int sent = 0;
    for (VolumeStream v : volumes) {
      reportDurable(v);
      long stalledFor = v.stallLeft(now);
      if (stalledFor < 0) {
        continue; // until the next WELCOME
      }
      if (stalledFor > 0) {
        wait = Math.min(wait, stalledFor);
        continue;
      }
      sent += pump(ch, v, now);
      if (pacer.throttledNanos() > 0) {
        wait = Math.min(wait, pacer.throttledNanos());
      }
      if (v.lingerNanos > 0) {
        wait = Math.min(wait, v.lingerNanos);
      }
      if (v.retryAtNanos != VolumeStream.NO_RETRY) {
        wait = Math.min(wait, Math.max(1, v.retryAtNanos - now));
      }
    }
    idleNanos = wait;
    return sent;
  }

  /**
   * Passes what the standby holds to the sources (they may block: that is why the agent does it).
   */
  private void reportDurable(VolumeStream v) {
    ResyncSource rs = v.source.resync();
    if (rs != null) {
      v.copier.reportDurable(rs);
    }
    v.reportDurable();
  }

  /** Regions first while a resync is due or running; history otherwise. */
  private int pump(Channel ch, VolumeStream v, long now) {
    v.lingerNanos = 0;
    pacer.beginPump();
    int sent = 0;
    ResyncSource rs = v.source.resync();
    if (rs != null && v.copier.holdsHistory(rs)) {
      if (v.copier.lastPassAcknowledging()) {
        return 0;
      }
      sent += v.copier.pump(ch, rs, pacer, config, peer);
      if (v.copier.holdsHistory(rs)) {
        return sent;
      }
    }
    return sent + batches.pump(ch, v, now);
  }

  /**
   * Stops the thread and the event loop and closes the connection; waits for the thread a bounded
   * time.
   */
  void close() {
    wake.close();
    Channel ch = channel;
    if (ch != null) {
      ch.close();
    }
    Thread t = thread;
    if (t != null) {
      try {
        if (!t.join(CLOSE_WAIT)) {
          LOG.log(
              Level.WARNING,
              "WAN link to {0}: the shipper thread did not stop within {1} s (blocked reading the journal?)",
              peer,
              Long.toString(CLOSE_WAIT.toSeconds()));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    EventLoopGroup g = group;
    if (g != null) {
      g.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
    connected = false;
    state = ConnectionState.CLOSED;
  }
}
