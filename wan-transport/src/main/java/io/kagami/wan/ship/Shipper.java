package io.kagami.wan.ship;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;
import io.kagami.journal.JournalEntry;
import io.kagami.wan.frame.ByteCounter;
import io.kagami.wan.frame.MalformedFrameException;
import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.pipeline.WanPipeline;
import io.kagami.wan.throttle.RateWindow;
import io.kagami.wan.throttle.TokenBucket;
import io.kagami.wan.tls.Tls;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.Future;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.StringJoiner;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The primary's end of the WAN link: connects to the standby (mutual TLS 1.3, pinned
 * certificates), says HELLO with its volumes, and from each volume's resume point in the WELCOME
 * streams journal entries in BATCH frames, keeping up to a window of unacknowledged bytes in flight
 * per volume. On any failure it reconnects with backoff and resumes from what the standby then
 * reports durable: a disconnect never restarts a volume from the beginning, and nothing is skipped.
 *
 * <p>Guarantees, per volume: entries leave in sequence order without gaps, starting right after
 * the standby's durable point on every connection; {@link ShipSource#peerDurable} is called only
 * with a sequence number the standby reported durable (in WELCOME or ACK), never decreasing; at
 * most {@code windowBytes} plus one batch are unacknowledged; nothing is written while the channel
 * is not writable. A volume whose history cannot be shipped — the standby is ahead of the journal
 * (diverged), the journal no longer holds what the standby needs (trimmed), or reading it fails —
 * is stalled with the reason in {@link #snapshot()}, never shipped around; the others go on.
 *
 * <p>Batching: a volume's entries go out as one BATCH when they reach {@code maxBatchBytes}, when
 * more is already journaled than fits, when nothing of the volume is in flight (an idle link gains
 * nothing from waiting), or when the oldest has waited {@code maxBatchDelay}.
 *
 * <p>Threads: the agent thread {@code kagami-ship-<peer>} owns the connection cycle and does every
 * journal read, batch encoding and LZ4 compression; it waits on a condition that journal appends
 * ({@link ShipSource#onAppend}), acknowledgements, writability changes and {@link #close()} signal.
 * One Netty event loop ({@code kagami-ship-<peer>-io-0}) does TLS, decodes frames and records
 * acknowledgements; it never blocks and never calls into a {@link ShipSource}.
 *
 * <p>Bandwidth: with a cap ({@link ShipperConfig#bandwidthBytesPerSecond}, {@link #setBandwidth}
 * at run time, no reconnect) every frame is charged to a {@link TokenBucket} at its wire size
 * (after batch compression, plus the TLS record overhead). When the bucket is empty the agent does
 * not send and does not sleep: it waits on its wake-up condition for exactly as long as the bucket
 * says, so a rate change, an acknowledgement or close still cut the wait short. While capped,
 * batches shrink to one burst (a tenth of a second at the cap, see {@link
 * TokenBucket#defaultBurst}) so the link is paced smoothly rather than in 1 MiB lumps, and volumes
 * take turns batch by batch. Unsent entries simply stay in the journal: that is the history.
 */
public final class Shipper implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Shipper.class.getName());
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(10);
  /** What "recent" means for the send rates in {@link #snapshot()}. */
  static final Duration RATE_WINDOW = Duration.ofSeconds(5);
  /** TLS 1.3 record: 5-byte header, 1-byte content type, 16-byte AEAD tag per 16 KiB of data. */
  private static final int TLS_RECORD_DATA = 16384;
  private static final int TLS_RECORD_OVERHEAD = 22;

  private enum State {
    NEW,
    RUNNING,
    CLOSED
  }

  private record Failure(String reason, Instant at) {}

  private final ShipperConfig config;
  private final InstantSource clock;
  private final String peer;
  private final String address;
  private final List<VolumeState> volumes;
  private final Map<String, VolumeState> byName;
  private final WanPipeline pipeline;
  private final ByteCounter wire = new ByteCounter();
  private final AtomicLong rawBytes = new AtomicLong();
  private final NanoClock nanoClock;
  private final TokenBucket bucket;
  private final RateWindow wireRate;
  private long throttledNanos; // agent: how long the bucket makes the next send wait; 0 = not throttled
  private long chargedWire; // agent: wire bytes charged to the bucket so far (estimates plus reconciled excess)
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private boolean signalled; // guarded by lock
  private State state = State.NEW; // guarded by this
  private volatile boolean closing;
  private volatile EventLoopGroup group;
  private volatile Thread agent;
  private volatile Channel channel;
  private volatile boolean connected;
  /** A switchover in progress: completes on HANDED_OVER, fails on REFUSE or a lost connection. */
  private volatile CompletableFuture<Void> handedOver;
  private volatile String peerSiteId;
  private volatile Failure lastFailure;
  private String loggedReason; // agent: the failure last logged, so a retry loop logs it once

  /** One volume's shipping state. */
  private static final class VolumeState {
    final ShipSource source;
    final String name;
    // Agent thread only.
    long readSeq = 1;
    final ArrayDeque<JournalEntry> pending = new ArrayDeque<>(); // read, not yet sent
    long pendingBytes;
    Instant pendingSince;
    long lingerNanos;
    long reportedAck;
    boolean diverged;
    Instant retryAt;
    // Written under the shipper's lock (event loop on ACK, agent on send and resume).
    final ArrayDeque<long[]> inflight = new ArrayDeque<>(); // {lastSeq, bytes} per batch
    volatile long inflightBytes;
    volatile long acked;
    // Written by the agent, read by snapshot() and the event loop.
    volatile long lastSent;
    volatile long resumedFrom;
    volatile String stalled;
    // Resync (agent thread, except the acknowledgement count written under the lock).
    boolean resyncing;
    long resyncCursor;
    final ArrayDeque<long[]> regionsInflight = new ArrayDeque<>(); // {region, bytes}, in send order
    long regionsSent; // since the last RESYNC
    long regionsReported; // acknowledged regions passed to the source
    volatile long regionsAcked; // since the last RESYNC, from REGIONS_DURABLE
    boolean comparing; // this pass sends checksums, not data
    long regionsCompared; // this pass: by checksum
    long regionsWithData; // this pass: with data (zero regions not counted)
    boolean askedForAcks; // this pass: a heartbeat asked for the last acknowledgements
    final java.util.Set<Long> wanted = java.util.concurrent.ConcurrentHashMap.newKeySet(); // offsets the standby asked for
    final java.util.concurrent.ConcurrentLinkedQueue<Long> toSend = new java.util.concurrent.ConcurrentLinkedQueue<>(); // wanted, data not sent yet
    final RateWindow rawRate;

    VolumeState(ShipSource source, NanoClock nanoClock) {
      this.source = source;
      this.name = source.volume();
      this.rawRate = new RateWindow(nanoClock, RATE_WINDOW);
    }
  }

  public Shipper(ShipperConfig config, List<ShipSource> sources) {
    this(config, sources, SystemTime.WALL);
  }

  /** {@code clock} stamps errors and ages pending batches. */
  public Shipper(ShipperConfig config, List<ShipSource> sources, InstantSource clock) {
    this(config, sources, clock, SystemTime.NANO);
  }

  /** {@code nanoClock} drives the bandwidth cap and the send rates ({@link SystemTime#NANO} in production). */
  public Shipper(ShipperConfig config, List<ShipSource> sources, InstantSource clock, NanoClock nanoClock) {
    this.config = Objects.requireNonNull(config, "config");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
    this.bucket = new TokenBucket(nanoClock, config.bandwidthBytesPerSecond());
    this.wireRate = new RateWindow(nanoClock, RATE_WINDOW);
    this.peer = config.peerSiteId();
    this.address = config.host() + ":" + config.port();
    Map<String, VolumeState> m = new LinkedHashMap<>();
    for (ShipSource s : sources) {
      if (m.putIfAbsent(s.volume(), new VolumeState(s, nanoClock)) != null) {
        throw new IllegalArgumentException("volume " + s.volume() + " is offered twice on the WAN link to " + address);
      }
    }
    this.byName = Map.copyOf(m);
    this.volumes = List.copyOf(m.values());
    this.pipeline = WanPipeline.client(wire, Tls.client(config.credentials(), config.peerCertificate()), config.host(), config.port(), config.maxFrameBytes(), config.heartbeat());
  }

  /** Starts connecting and shipping in the background; see {@link #snapshot()} for progress. */
  public synchronized void start() {
    if (state != State.NEW) {
      throw new IllegalStateException("the shipper to " + address + " is " + state.name().toLowerCase(java.util.Locale.ROOT) + "; it starts once");
    }
    state = State.RUNNING;
    group = new MultiThreadIoEventLoopGroup(1, Thread.ofPlatform().name("kagami-ship-" + peer + "-io-", 0).daemon(true).factory(), NioIoHandler.newFactory());
    for (VolumeState v : volumes) {
      v.source.onAppend(this::signal);
    }
    agent = Thread.ofPlatform().name("kagami-ship-" + peer).daemon(true).start(this::run);
  }

  // ---- the agent ----

  private void run() {
    try {
      Duration delay = config.reconnectMin();
      while (!closing && !Thread.currentThread().isInterrupted()) {
        boolean wasUp = false;
        try {
          wasUp = session();
        } catch (IOException | RuntimeException e) {
          wasUp = connected;
          if (!closing) {
            failed(e instanceof IOException && e.getMessage() != null ? e.getMessage() : Tls.explain(e));
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          connected = false;
          Channel ch = channel;
          if (ch != null) {
            ch.close();
          }
        }
        if (closing) {
          break;
        }
        if (wasUp) {
          delay = config.reconnectMin();
        }
        idle(delay);
        delay = delay.multipliedBy(2).compareTo(config.reconnectMax()) > 0 ? config.reconnectMax() : delay.multipliedBy(2);
      }
    } catch (Error e) {
      failed("the shipper stopped: " + e);
      throw e;
    }
  }

  /** One connection: returns when closing, throws when the link fails; true once it was up. */
  private boolean session() throws IOException, InterruptedException {
    CompletableFuture<WanMessage.Welcome> welcome = new CompletableFuture<>();
    Handler handler = new Handler(welcome);
    int batch = config.maxBatchBytes();
    Bootstrap b =
        new Bootstrap()
            .group(group)
            .channel(NioSocketChannel.class)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) config.connectTimeout().toMillis())
            .option(ChannelOption.TCP_NODELAY, true)
            .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(2 * batch, 4 * batch))
            .handler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    pipeline.install(ch, "link", handler);
                  }
                });
    ChannelFuture cf = b.connect(config.host(), config.port());
    Channel ch = cf.channel();
    channel = ch;
    if (closing) {
      ch.close();
      return false;
    }
    await(cf, "connecting to the standby at " + address);
    await(ch.pipeline().get(SslHandler.class).handshakeFuture(), "TLS handshake with the standby");
    List<WanMessage.VolumeOffer> offers = new ArrayList<>();
    for (VolumeState v : volumes) {
      VolumeGeneration g = v.source.generation();
      offers.add(new WanMessage.VolumeOffer(v.name, v.source.sizeBytes(), g.current(), g.prior(), g.priorEnd()));
    }
    ch.writeAndFlush(new WanMessage.Hello(WanCodec.VERSION, config.siteId(), offers), ch.voidPromise());
    WanMessage.Welcome w;
    try {
      w = welcome.get(config.connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IOException(e.getCause().getMessage(), e.getCause());
    } catch (TimeoutException e) {
      throw new IOException("the standby did not answer HELLO within " + config.connectTimeout().toMillis() + " ms");
    }
    resume(w);
    peerSiteId = w.siteId();
    connected = true;
    loggedReason = null;
    StringJoiner from = new StringJoiner(", ");
    for (VolumeState v : volumes) {
      from.add(v.name + " after seq " + v.resumedFrom);
    }
    LOG.log(Level.INFO, "WAN link to {0} ({1}) up; resuming {2}", peer, address, from);
    ship(ch, handler);
    return true;
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

  /** Applies a WELCOME: every volume restarts right after the standby's durable point. */
  private void resume(WanMessage.Welcome w) throws IOException {
    if (!w.siteId().equals(peer)) {
      throw new IOException("the standby calls itself \"" + w.siteId() + "\" but its certificate is for \"" + peer + "\"");
    }
    Map<String, Long> from = new HashMap<>();
    for (WanMessage.VolumeResume r : w.volumes()) {
      if (!byName.containsKey(r.name()) || from.put(r.name(), r.lastDurableSeq()) != null) {
        throw new IOException("WELCOME names volume " + r.name() + (byName.containsKey(r.name()) ? " twice" : ", which was not offered"));
      }
    }
    for (VolumeState v : volumes) {
      if (!from.containsKey(v.name)) {
        throw new IOException("WELCOME does not say where volume " + v.name + " resumes");
      }
    }
    lock.lock();
    try {
      for (VolumeState v : volumes) {
        long seq = from.get(v.name);
        if (seq < v.acked) {
          LOG.log(Level.WARNING, "WAN link to {0}: the standby now holds volume {1} only through seq {2}, having acknowledged seq {3} before: it lost acknowledged history", peer, v.name, Long.toString(seq), Long.toString(v.acked));
        }
        v.inflight.clear();
        v.inflightBytes = 0;
        v.acked = seq;
        v.lastSent = seq;
        v.resumedFrom = seq;
        v.readSeq = seq + 1;
        v.pending.clear();
        v.pendingBytes = 0;
        v.pendingSince = null;
        v.stalled = null;
        v.retryAt = null;
        v.diverged = false;
        v.resyncing = false;
        v.regionsInflight.clear();
        v.regionsSent = 0;
        v.regionsReported = 0;
        v.regionsAcked = 0;
      }
    } finally {
      lock.unlock();
    }
    for (VolumeState v : volumes) {
      long last = v.source.lastSeq();
      ResyncSource rs = v.source.resync();
      if (rs != null && v.resumedFrom <= last) {
        rs.standbyResumesAt(v.resumedFrom);
      }
      List<WanMessage.Range> diverged = divergedOf(w, v.name);
      if (!diverged.isEmpty()) {
        if (rs == null) {
          v.diverged = true;
          stall(v, "the standby discarded its own writes to volume " + v.name + " after the fork and needs regions copied, which this volume cannot do", null);
        } else {
          LOG.log(Level.INFO, "WAN link to {0}: volume {1}: the standby rejoined after a failover; copying its {2} diverged range(s) with what changed here", peer, v.name, diverged.size());
          rs.standbyDiverged(diverged);
        }
      }
      if (v.resumedFrom > last) {
        v.diverged = true;
        stall(v, "the standby holds volume " + v.name + " through seq " + v.resumedFrom + " but this primary's journal ends at seq " + last + ": the sites' histories diverged; not shipping this volume", null);
      }
    }
  }

  private static List<WanMessage.Range> divergedOf(WanMessage.Welcome w, String volume) {
    for (WanMessage.VolumeResume r : w.volumes()) {
      if (r.name().equals(volume)) {
        return r.diverged();
      }
    }
    return List.of();
  }

  /** Ships until the connection ends or the shipper closes. */
  private void ship(Channel ch, Handler handler) throws IOException {
    while (!closing && ch.isActive() && !Thread.currentThread().isInterrupted()) {
      Instant now = clock.instant();
      long wait = config.heartbeat().toNanos();
      int sent = 0;
      for (VolumeState v : volumes) {
        reportAck(v);
        if (v.stalled != null) {
          if (v.retryAt == null) {
            continue; // until the next WELCOME
          }
          long left = nanosBetween(now, v.retryAt);
          if (left > 0) {
            wait = Math.min(wait, left);
            continue;
          }
          v.stalled = null;
          v.retryAt = null;
        }
        sent += pump(ch, v, now);
        if (throttledNanos > 0) {
          wait = Math.min(wait, throttledNanos);
        }
        if (v.lingerNanos > 0) {
          wait = Math.min(wait, v.lingerNanos);
        }
        if (v.retryAt != null) {
          wait = Math.min(wait, Math.max(1, nanosBetween(now, v.retryAt)));
        }
      }
      if (sent == 0) {
        pause(wait);
      }
    }
    if (!closing) {
      throw new IOException(handler.reason());
    }
  }

  /** Sends what the window, writability and batching rules allow for one volume. */
  private int pump(Channel ch, VolumeState v, Instant now) {
    v.lingerNanos = 0;
    throttledNanos = 0;
    reconcileWire();
    int sent = 0;
    ResyncSource rs = v.source.resync();
    if (rs != null && (v.resyncing || rs.needed())) {
      if (!v.resyncing && !v.regionsInflight.isEmpty()) {
        // The last pass ended; its final regions are being acknowledged. Ship nothing until then:
        // the history after its base may be needed by a further pass rather than shipped.
        return 0;
      }
      sent += pumpRegions(ch, v, rs);
      if (v.resyncing || rs.needed()) {
        return sent;
      }
    }
    boolean capped = bucket.rate() > 0;
    while (ch.isActive() && ch.isWritable() && v.stalled == null && v.inflightBytes < config.windowBytes() && !(capped && sent > 0)) {
      if (v.pendingBytes < config.maxBatchBytes() && !read(v, now)) {
        break;
      }
      if (v.pending.isEmpty()) {
        break;
      }
      long linger = lingerNanos(v, now);
      if (linger > 0) {
        v.lingerNanos = linger;
        break;
      }
      long wait = bucket.nanosUntilSend();
      if (wait > 0) {
        throttledNanos = wait; // back-pressure from the cap: the entries stay in the journal as history
        break;
      }
      if (send(ch, v)) {
        sent++;
      }
    }
    return sent;
  }

  /**
   * Resync: RESYNC once, then REGIONs within the window, then RESYNC_END; history follows from
   * the base. Returns frames sent.
   */
  private int pumpRegions(Channel ch, VolumeState v, ResyncSource rs) {
    int sent = 0;
    if (!v.resyncing) {
      long base = rs.begin();
      if (base < v.lastSent) {
        // Should not happen (the base is the journal's end); never let the standby go backwards.
        stall(v, "volume " + v.name + ": resync base " + base + " is behind seq " + v.lastSent + ", already sent", null);
        return 0;
      }
      v.resyncing = true;
      v.comparing = rs.comparing();
      v.regionsCompared = 0;
      v.regionsWithData = 0;
      v.askedForAcks = false;
      v.wanted.clear();
      v.toSend.clear();
      v.resyncCursor = 0;
      v.pending.clear();
      v.pendingBytes = 0;
      v.pendingSince = null;
      v.readSeq = base + 1;
      v.lastSent = base;
      lock.lock();
      try {
        v.regionsInflight.clear();
        v.regionsSent = 0;
        v.regionsReported = 0;
        v.regionsAcked = 0;
      } finally {
        lock.unlock();
      }
      ch.writeAndFlush(new WanMessage.Resync(v.name, base), ch.voidPromise());
      sent++;
    }
    while (ch.isActive() && ch.isWritable() && v.inflightBytes < config.windowBytes()) {
      Long wantedOffset = v.toSend.poll();
      if (wantedOffset != null) {
        v.askedForAcks = false; // the data of wanted regions needs acknowledging too
      }
      long region;
      boolean sum;
      if (wantedOffset != null) {
        region = rs.regionAt(wantedOffset);
        sum = false;
      } else {
        region = rs.nextDirty(v.resyncCursor);
        if (region < 0) {
          if (v.comparing && (!v.regionsInflight.isEmpty() || !v.toSend.isEmpty())) {
            if (!v.askedForAcks) {
              // The standby acknowledges regions in groups; a heartbeat asks for the rest now.
              v.askedForAcks = true;
              ch.writeAndFlush(new WanMessage.Heartbeat(), ch.voidPromise());
              return sent + 1;
            }
            return sent; // the standby's answers (which regions it wants) are still coming
          }
          long consistentAt = rs.end();
          ch.writeAndFlush(new WanMessage.ResyncEnd(v.name, consistentAt), ch.voidPromise());
          v.resyncing = false;
          LOG.log(
              Level.INFO,
              "WAN link to {0}: volume {1}: all {2} regions of the resync sent ({3} compared by checksum, {4} with data, the rest zeroes); the replica is consistent once it applied seq {5}",
              peer,
              v.name,
              v.regionsSent,
              v.regionsCompared,
              v.regionsWithData,
              Long.toString(consistentAt));
          return sent + 1;
        }
        v.resyncCursor = region + 1;
        sum = v.comparing;
      }
      long wait = bucket.nanosUntilSend();
      if (wait > 0) {
        // The bandwidth cap applies to region copies too; the region stays marked until sent.
        if (wantedOffset != null) {
          v.toSend.add(wantedOffset);
        } else {
          v.resyncCursor = region;
        }
        throttledNanos = wait;
        return sent;
      }
      int length = rs.lengthOf(region);
      byte[] data = rs.read(region);
      WanMessage m;
      if (sum && data != null) {
        m = new WanMessage.RegionSum(v.name, rs.offsetOf(region), length, io.kagami.wan.frame.RegionSum.of(data));
        v.regionsCompared++;
      } else {
        m = new WanMessage.Region(v.name, rs.offsetOf(region), length, data);
        rawBytes.addAndGet(length);
        sum = false;
        if (data != null) {
          v.regionsWithData++;
        }
      }
      lock.lock();
      try {
        v.regionsInflight.add(new long[] {region, length, sum ? 1 : 0});
        v.inflightBytes += length;
        v.regionsSent++;
      } finally {
        lock.unlock();
      }
      // Charged at its uncompressed size; reconcileWire() settles with what the socket sent.
      long onWire = wireSize(m instanceof WanMessage.Region r && r.data() != null ? length + 64 : 64);
      bucket.consume(onWire);
      chargedWire += onWire;
      wireRate.record(onWire);
      ch.writeAndFlush(m, ch.voidPromise());
      sent++;
    }
    if (ch.isActive() && v.inflightBytes >= config.windowBytes() && !v.askedForAcks) {
      // The standby acknowledges regions in groups; with the window full, ask for what it holds.
      v.askedForAcks = true;
      ch.writeAndFlush(new WanMessage.Heartbeat(), ch.voidPromise());
      sent++;
    }
    return sent;
  }

  /** How much longer the pending entries should wait for company; 0 = send now. */
  private long lingerNanos(VolumeState v, Instant now) {
    if (v.pendingBytes >= batchLimit() || v.source.lastSeq() >= v.readSeq || v.inflightBytes == 0) {
      return 0;
    }
    long age = nanosBetween(v.pendingSince, now);
    long left = config.maxBatchDelay().toNanos() - age;
    // A clock that went backwards ships at once rather than holding entries back.
    return age < 0 || left <= 0 ? 0 : left;
  }

  /** Reads the next entries into the pending ones; false when the volume stalled. */
  private boolean read(VolumeState v, Instant now) {
    long from = v.readSeq;
    List<JournalEntry> got;
    try {
      // A whole batch's worth even when topping up: what does not fit goes in the next batch.
      got = v.source.read(from, config.maxBatchBytes());
    } catch (RuntimeException e) {
      stall(v, "reading volume " + v.name + " from seq " + from + " failed: " + Tls.explain(e) + "; retrying in " + config.reconnectMax().toMillis() + " ms", now.plus(config.reconnectMax()));
      return false;
    }
    if (got.isEmpty()) {
      return true;
    }
    long expected = from;
    for (JournalEntry e : got) {
      if (e.seq() != expected) {
        stall(
            v,
            expected == from && e.seq() > from
                ? "the standby needs volume " + v.name + " from seq " + from + ", but the journal's oldest entry is seq " + e.seq() + " (trimmed): the standby must be re-seeded"
                : "the journal of volume " + v.name + " returned seq " + e.seq() + " where seq " + expected + " belongs; not shipping it",
            null);
        return false;
      }
      expected++;
    }
    if (v.pending.isEmpty()) {
      v.pendingSince = now;
    }
    for (JournalEntry e : got) {
      v.pending.add(e);
      v.pendingBytes += e.wireBytes();
    }
    v.readSeq = expected;
    return true;
  }

  /** Entry bytes per batch: {@code maxBatchBytes}, or one burst of the bucket while capped. */
  private int batchLimit() {
    if (bucket.rate() == 0) {
      return config.maxBatchBytes();
    }
    return Math.clamp(bucket.burst(), ShipperConfig.MIN_BATCH_BYTES, config.maxBatchBytes());
  }

  /**
   * Charges the bucket with socket bytes the per-frame estimates missed (handshakes, heartbeats,
   * TLS records smaller than 16 KiB), so the cap holds on what the socket really carried. The
   * socket count trails the estimates while frames are in the pipeline; only an excess is charged.
   */
  private void reconcileWire() {
    long extra = wire.written() - chargedWire;
    if (extra > 0) {
      bucket.consume(extra);
      chargedWire += extra;
    }
  }

  /** What a frame costs on the wire: its bytes plus TLS record overhead. */
  static long wireSize(int frameBytes) {
    return frameBytes + (long) TLS_RECORD_OVERHEAD * ((frameBytes + TLS_RECORD_DATA - 1) / TLS_RECORD_DATA);
  }

  /** Sends the oldest pending entries, up to {@link #batchLimit()} (at least one entry). */
  private boolean send(Channel ch, VolumeState v) {
    List<JournalEntry> entries = new ArrayList<>();
    long bytes = 0;
    int limit = batchLimit();
    for (JournalEntry e : v.pending) {
      if (!entries.isEmpty() && bytes + e.wireBytes() > limit) {
        break;
      }
      entries.add(e);
      bytes += e.wireBytes();
    }
    WanMessage.Batch batch = new WanMessage.Batch(v.name, entries);
    ByteBuf frame = WanCodec.encode(ch.alloc(), batch);
    if (frame.readableBytes() - 4 > config.maxFrameBytes()) {
      int size = frame.readableBytes() - 4;
      frame.release();
      stall(v, "volume " + v.name + ": seqs " + batch.firstSeq() + ".." + batch.lastSeq() + " encode to " + size + " bytes, more than the maximum frame of " + config.maxFrameBytes(), null);
      return false;
    }
    lock.lock();
    try {
      v.inflight.add(new long[] {batch.lastSeq(), bytes});
      v.inflightBytes += bytes;
    } finally {
      lock.unlock();
    }
    v.lastSent = batch.lastSeq();
    rawBytes.addAndGet(bytes);
    v.rawRate.record(bytes);
    long onWire = wireSize(frame.readableBytes());
    bucket.consume(onWire);
    chargedWire += onWire;
    wireRate.record(onWire);
    for (int i = 0; i < entries.size(); i++) {
      v.pending.poll();
    }
    v.pendingBytes -= bytes;
    if (v.pending.isEmpty()) {
      v.pendingSince = null;
    }
    ch.writeAndFlush(frame, ch.voidPromise());
    return true;
  }

  /** Stops shipping a volume: until {@code retryAt}, or until the next WELCOME when null. */
  private void stall(VolumeState v, String reason, Instant retryAt) {
    v.stalled = reason;
    v.retryAt = retryAt;
    v.pending.clear();
    v.pendingBytes = 0;
    v.pendingSince = null;
    v.readSeq = v.lastSent + 1;
    failed(reason);
  }

  /** Passes the standby's durable point to the source; agent thread, so sources may block. */
  private void reportAck(VolumeState v) {
    ResyncSource rs = v.source.resync();
    if (rs != null) {
      List<Long> done = new ArrayList<>();
      lock.lock();
      try {
        while (v.regionsReported < v.regionsAcked && !v.regionsInflight.isEmpty()) {
          long[] r = v.regionsInflight.poll();
          v.inflightBytes -= r[1];
          v.regionsReported++;
          if (r[2] == 0 || !v.wanted.remove(rs.offsetOf(r[0]))) {
            done.add(r[0]); // a compared region the standby wants stays marked until its data is durable
          }
        }
      } finally {
        lock.unlock();
      }
      for (long region : done) {
        rs.durable(region);
      }
      if (!done.isEmpty()) {
        v.askedForAcks = false;
      }
    }
    long a = v.acked;
    if (a > v.reportedAck && !v.diverged) {
      v.reportedAck = a;
      v.source.peerDurable(a);
    }
  }

  private void failed(String reason) {
    lastFailure = new Failure(reason, clock.instant());
    if (!reason.equals(loggedReason)) {
      loggedReason = reason;
      LOG.log(Level.WARNING, "WAN link to {0} ({1}): {2}", peer, address, reason);
    }
  }

  private static long nanosBetween(Instant a, Instant b) {
    try {
      return Duration.between(a, b).toNanos();
    } catch (ArithmeticException e) {
      return a.isBefore(b) ? Long.MAX_VALUE : Long.MIN_VALUE;
    }
  }

  private void signal() {
    lock.lock();
    try {
      signalled = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Waits up to {@code nanos} for a signal (append, ack, writability, close). */
  private void pause(long nanos) {
    lock.lock();
    try {
      if (!signalled && !closing && nanos > 0) {
        wake.awaitNanos(nanos);
      }
      signalled = false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }

  /** A reconnect delay: only closing cuts it short (journal appends must not). */
  private void idle(Duration d) {
    lock.lock();
    try {
      long left = d.toNanos();
      while (!closing && left > 0) {
        left = wake.awaitNanos(left);
      }
      signalled = false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }

  // ---- the event loop ----

  private void acked(Handler h, ChannelHandlerContext ctx, WanMessage.Ack a) {
    VolumeState v = byName.get(a.volume());
    if (v == null) {
      h.drop(ctx, "the standby acknowledged volume " + a.volume() + ", which was not offered");
      return;
    }
    lock.lock();
    try {
      long seq = a.durableSeq();
      if (seq > v.lastSent) {
        // Fail closed: a source told "durable" beyond what was sent might trim what the standby lacks.
        h.drop(ctx, "the standby acknowledged volume " + v.name + " through seq " + seq + ", but only seq " + v.lastSent + " was sent");
        return;
      }
      if (seq > v.acked) {
        v.acked = seq;
        if (!v.diverged) {
          v.source.acknowledged(seq);
        }
      }
      while (!v.inflight.isEmpty() && v.inflight.peek()[0] <= seq) {
        v.inflightBytes -= v.inflight.poll()[1];
      }
      signalled = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void regionsDurable(Handler h, ChannelHandlerContext ctx, WanMessage.RegionsDurable d) {
    VolumeState v = byName.get(d.volume());
    if (v == null) {
      h.drop(ctx, "the standby acknowledged regions of volume " + d.volume() + ", which was not offered");
      return;
    }
    lock.lock();
    try {
      if (d.count() > v.regionsSent) {
        h.drop(ctx, "the standby acknowledged " + d.count() + " regions of volume " + v.name + ", but only " + v.regionsSent + " were sent");
        return;
      }
      if (d.count() > v.regionsAcked) {
        v.regionsAcked = d.count();
      }
      signalled = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** One connection's inbound side. */
  private final class Handler extends SimpleChannelInboundHandler<WanMessage> {
    private final CompletableFuture<WanMessage.Welcome> welcome;
    private volatile String reason;

    Handler(CompletableFuture<WanMessage.Welcome> welcome) {
      this.welcome = welcome;
    }

    /** Why this connection ended, as the operator should read it. */
    String reason() {
      String r = reason;
      return r != null ? r : "the standby closed the connection";
    }

    void drop(ChannelHandlerContext ctx, String why) {
      if (reason == null) {
        reason = why;
      }
      ctx.close();
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WanMessage msg) {
      if (ctx.channel() != channel) {
        return; // a late frame from a connection already given up
      }
      switch (msg) {
        case WanMessage.Welcome w -> {
          if (!welcome.complete(w)) {
            drop(ctx, "the standby sent a second WELCOME");
          }
        }
        case WanMessage.Ack a -> {
          if (!welcome.isDone()) {
            drop(ctx, "the standby sent an ACK before WELCOME");
          } else {
            acked(this, ctx, a);
          }
        }
        case WanMessage.RegionsDurable d -> regionsDurable(this, ctx, d);
        case WanMessage.RegionWanted w -> {
          VolumeState v = byName.get(w.volume());
          if (v == null) {
            drop(ctx, "the standby wants a region of volume " + w.volume() + ", which was not offered");
          } else if (w.offset() >= v.source.sizeBytes()) {
            drop(ctx, "the standby wants a region at offset " + w.offset() + ", beyond volume " + v.name + "'s " + v.source.sizeBytes() + " bytes");
          } else {
            v.wanted.add(w.offset());
            v.toSend.add(w.offset());
            signal();
          }
        }
        case WanMessage.RegionSum r -> drop(ctx, "the standby sent a REGION_SUM, which only a primary sends");
        case WanMessage.Refuse r -> {
          CompletableFuture<Void> h = handedOver;
          if (h != null) {
            h.completeExceptionally(new HandoverException(HandoverException.Kind.REFUSED, "the standby refused: " + r.reason()));
          }
          drop(ctx, "the standby refused the link: " + r.reason());
        }
        case WanMessage.HandedOver h -> {
          CompletableFuture<Void> f = handedOver;
          if (f == null || !f.complete(null)) {
            drop(ctx, "the standby sent HANDED_OVER without a HANDOVER");
          }
        }
        case WanMessage.Handover h -> drop(ctx, "the standby sent a HANDOVER, which only a primary sends");
        case WanMessage.Heartbeat h -> {}
        case WanMessage.Resync r -> drop(ctx, "the standby sent a RESYNC, which only a primary sends");
        case WanMessage.Region r -> drop(ctx, "the standby sent a REGION, which only a primary sends");
        case WanMessage.ResyncEnd e -> drop(ctx, "the standby sent a RESYNC_END, which only a primary sends");
        case WanMessage.Hello h -> drop(ctx, "the standby sent a HELLO, which only a primary sends");
        case WanMessage.Batch b -> drop(ctx, "the standby sent a BATCH, which only a primary sends");
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt instanceof IdleStateEvent e) {
        if (e.state() == IdleState.READER_IDLE) {
          drop(ctx, "no frame from the standby for " + config.heartbeat().multipliedBy(3).toMillis() + " ms");
        } else if (e.state() == IdleState.WRITER_IDLE && welcome.isDone()) {
          ctx.writeAndFlush(new WanMessage.Heartbeat(), ctx.voidPromise());
        }
      }
      super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
      signal();
      super.channelWritabilityChanged(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      welcome.completeExceptionally(new IOException(reason()));
      CompletableFuture<Void> h = handedOver;
      if (h != null) {
        h.completeExceptionally(new HandoverException(HandoverException.Kind.UNANSWERED, "the link to the standby ended before it answered the switchover: " + reason()));
      }
      signal();
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      String why;
      if (cause instanceof MalformedFrameException) {
        why = "the standby sent a malformed frame: " + cause.getMessage();
      } else if (cause instanceof IOException && !(cause instanceof javax.net.ssl.SSLException)) {
        why = "connection to the standby lost: " + Tls.explain(cause);
      } else {
        why = Tls.explain(cause);
      }
      drop(ctx, why);
    }
  }

  // ---- switchover ----

  /**
   * Planned switchover: tells the standby to take over from {@code endSeqs} (every volume's last
   * seq, which the standby must have acknowledged: the caller stopped writes and drained first).
   * Completes when the standby answers HANDED_OVER; fails with a {@link HandoverException} whose
   * {@linkplain HandoverException#kind() kind} says whether the standby refused (and changed
   * nothing), never heard of it (link down, a volume not acknowledged through its end), or may
   * have taken over without answering (the connection ended).
   */
  public CompletableFuture<Void> handover(Map<String, Long> endSeqs) {
    Channel ch = channel;
    if (!connected || ch == null || !ch.isActive()) {
      return CompletableFuture.failedFuture(new HandoverException(HandoverException.Kind.NOT_SENT, "the link to the standby is down"));
    }
    List<WanMessage.VolumeEnd> ends = new ArrayList<>();
    for (VolumeState v : volumes) {
      Long end = endSeqs.get(v.name);
      if (end == null) {
        return CompletableFuture.failedFuture(new IllegalArgumentException("the switchover does not name volume " + v.name));
      }
      if (v.acked < end) {
        return CompletableFuture.failedFuture(new HandoverException(HandoverException.Kind.NOT_SENT, "the standby holds volume " + v.name + " only through seq " + v.acked + ", not " + end));
      }
      ends.add(new WanMessage.VolumeEnd(v.name, end));
    }
    CompletableFuture<Void> f = new CompletableFuture<>();
    handedOver = f;
    ch.writeAndFlush(new WanMessage.Handover(ends))
        .addListener(w -> {
          if (!w.isSuccess()) {
            f.completeExceptionally(new HandoverException(HandoverException.Kind.UNANSWERED, "sending HANDOVER failed: " + Tls.explain(w.cause()), w.cause()));
          }
        });
    return f;
  }

  // ---- status and lifecycle ----

  /** A consistent-enough picture of the link for status pages and metrics; cheap, any thread. */
  public LinkSnapshot snapshot() {
    Map<String, LinkSnapshot.VolumeProgress> m = new LinkedHashMap<>();
    for (VolumeState v : volumes) {
      m.put(v.name, new LinkSnapshot.VolumeProgress(v.lastSent, v.acked, v.resumedFrom, v.stalled, v.rawRate.bytesPerSecond()));
    }
    Failure f = lastFailure;
    return new LinkSnapshot(
        connected, peerSiteId, address, m, rawBytes.get(), wire.written(), f == null ? null : f.reason(), f == null ? null : f.at(), bucket.rate(), wireRate.bytesPerSecond());
  }

  /**
   * Caps the bytes put on the wire at {@code bytesPerSecond} (0 = unlimited), from the next frame
   * on; the connection stays up. Any thread.
   */
  public void setBandwidth(long bytesPerSecond) {
    if (bytesPerSecond < 0) {
      throw new IllegalArgumentException("bandwidth " + bytesPerSecond + " B/s is negative (0 = unlimited)");
    }
    if (bytesPerSecond != bucket.rate()) {
      bucket.setRate(bytesPerSecond);
      LOG.log(Level.INFO, "WAN link to {0}: bandwidth {1}", peer, bytesPerSecond == 0 ? "unlimited" : bytesPerSecond + " B/s");
    }
    signal(); // an agent waiting for tokens re-evaluates at the new rate
  }

  /** The cap in force, bytes per second; 0 = unlimited. */
  public long bandwidth() {
    return bucket.rate();
  }

  /** Stops shipping and releases the connection, the agent thread and the event loop; idempotent. */
  @Override
  public synchronized void close() {
    if (state == State.CLOSED) {
      return;
    }
    state = State.CLOSED;
    closing = true;
    signal();
    Channel ch = channel;
    if (ch != null) {
      ch.close();
    }
    Thread a = agent;
    if (a != null) {
      try {
        if (!a.join(CLOSE_WAIT)) {
          LOG.log(Level.WARNING, "WAN link to {0}: the shipper thread did not stop within {1} s (blocked reading the journal?)", peer, Long.toString(CLOSE_WAIT.toSeconds()));
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
  }
}
