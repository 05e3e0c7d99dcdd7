package io.kagami.wan.ship;

import io.kagami.journal.JournalEntry;
import io.kagami.wan.frame.ByteCounter;
import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.tls.SiteCredentials;
import io.kagami.wan.tls.Tls;
import io.netty.bootstrap.Bootstrap;
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
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The primary's end of the WAN link: connects to the standby (mutual TLS 1.3), says HELLO with its
 * volumes, and from each volume's resume point in the WELCOME streams journal entries in BATCH
 * frames, keeping up to a window of unacknowledged bytes in flight per volume. On any failure it
 * reconnects with backoff and resumes from what the standby reports durable: a disconnect never
 * causes a full copy, and nothing is skipped.
 *
 * <p>Threads: one agent thread ({@code kagami-ship-<address>}) reads the journal (which may block)
 * and writes frames; Netty's event loop only decodes and counts acknowledgements.
 */
public final class Shipper implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Shipper.class.getName());
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

  private final ShipperConfig config;
  private final String address;
  private final List<ShipSource> sources;
  private final Map<String, VolumeState> volumes = new LinkedHashMap<>();
  private final SslContext ssl;
  private final EventLoopGroup group;
  private final ByteCounter wire = new ByteCounter();
  private final AtomicLong raw = new AtomicLong();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private final Thread agent;
  private boolean signalled;
  private volatile boolean closing;
  private volatile boolean connected;
  private volatile Channel channel;
  private volatile String peerSiteId;
  private volatile String lastError;

  private static final class VolumeState {
    final ShipSource source;
    long nextSeq;
    volatile long lastSent;
    volatile long acked;
    long inflightBytes;
    final ArrayDeque<long[]> inflight = new ArrayDeque<>();

    VolumeState(ShipSource source) {
      this.source = source;
    }
  }

  public Shipper(ShipperConfig config, List<ShipSource> sources) {
    this.config = config;
    this.address = config.host() + ":" + config.port();
    this.sources = List.copyOf(sources);
    for (ShipSource s : sources) {
      volumes.put(s.volume(), new VolumeState(s));
    }
    this.ssl = Tls.client(config.credentials(), config.peerCertificate());
    this.group = new MultiThreadIoEventLoopGroup(1, Thread.ofPlatform().name("kagami-wan-io-", 0).daemon(true).factory(), NioIoHandler.newFactory());
    this.agent = Thread.ofPlatform().name("kagami-ship-" + address).daemon(true).unstarted(this::run);
  }

  public void start() {
    for (ShipSource s : sources) {
      s.onAppend(this::signal);
    }
    agent.start();
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

  /** Waits until signalled or {@code timeout} passed; returns early when closing. */
  private void pause(Duration timeout) {
    lock.lock();
    try {
      if (!signalled && !closing) {
        wake.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
      }
      signalled = false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }

  private void run() {
    Duration backoff = config.reconnectMin();
    while (!closing) {
      try {
        session();
        backoff = config.reconnectMin();
      } catch (Exception e) {
        String why = reason(e);
        if (!closing) {
          if (!why.equals(lastError)) {
            LOG.log(Level.WARNING, "WAN link to {0}: {1}; retrying", address, why);
          }
          lastError = why;
        }
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
      pauseUninterruptedFor(backoff);
      backoff = backoff.multipliedBy(2).compareTo(config.reconnectMax()) > 0 ? config.reconnectMax() : backoff.multipliedBy(2);
    }
  }

  /** A reconnect delay that only closing cuts short (journal appends must not). */
  private void pauseUninterruptedFor(Duration d) {
    long deadline = System.nanoTime() + d.toNanos();
    lock.lock();
    try {
      long left;
      while (!closing && (left = deadline - System.nanoTime()) > 0) {
        wake.awaitNanos(left);
      }
      signalled = false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }

  private static String reason(Throwable e) {
    Throwable t = e;
    while ((t instanceof ExecutionException || t.getCause() != null && t.getMessage() == null) && t.getCause() != null) {
      t = t.getCause();
    }
    String m = t.getMessage();
    Throwable c = t.getCause();
    // TLS failures carry the interesting reason (e.g. the pinned-certificate refusal) in a cause.
    while (c != null) {
      if (c instanceof java.security.cert.CertificateException && c.getMessage() != null) {
        m = c.getMessage();
      }
      c = c.getCause();
    }
    return m == null ? t.toString() : m;
  }

  private void session() throws Exception {
    CompletableFuture<WanMessage.Welcome> welcome = new CompletableFuture<>();
    Bootstrap b =
        new Bootstrap()
            .group(group)
            .channel(NioSocketChannel.class)
            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) CONNECT_TIMEOUT.toMillis())
            .option(ChannelOption.TCP_NODELAY, true)
            .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(4 << 20, 8 << 20))
            .handler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    ch.pipeline()
                        .addLast(wire)
                        .addLast(ssl.newHandler(ch.alloc(), config.host(), config.port()))
                        .addLast(new WanCodec(config.maxFrameBytes()))
                        .addLast(new IdleStateHandler(config.heartbeat().toMillis() * 3, config.heartbeat().toMillis(), 0, TimeUnit.MILLISECONDS))
                        .addLast(new Handler(welcome));
                  }
                });
    ChannelFuture cf = b.connect(config.host(), config.port());
    if (!cf.await(CONNECT_TIMEOUT.toMillis() + 1000)) {
      cf.channel().close();
      throw new TimeoutException("connecting to the standby timed out");
    }
    if (!cf.isSuccess()) {
      throw new java.io.IOException("cannot connect to the standby: " + reason(cf.cause()), cf.cause());
    }
    Channel ch = cf.channel();
    channel = ch;
    SslHandler sslHandler = ch.pipeline().get(SslHandler.class);
    var hs = sslHandler.handshakeFuture();
    if (!hs.await(CONNECT_TIMEOUT.toMillis())) {
      throw new TimeoutException("TLS handshake with the standby timed out");
    }
    if (!hs.isSuccess()) {
      throw new javax.net.ssl.SSLException("TLS handshake with the standby failed: " + reason(hs.cause()), hs.cause());
    }
    List<WanMessage.VolumeOffer> offers = new ArrayList<>();
    for (ShipSource s : sources) {
      offers.add(new WanMessage.VolumeOffer(s.volume(), s.sizeBytes()));
    }
    ch.writeAndFlush(new WanMessage.Hello(WanCodec.VERSION, config.credentials().siteId(), offers));
    WanMessage.Welcome w = welcome.get(CONNECT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    String expected = SiteCredentials.commonName(config.peerCertificate());
    if (!w.siteId().equals(expected)) {
      throw new IllegalStateException("standby calls itself \"" + w.siteId() + "\" but its certificate is for \"" + expected + "\"");
    }
    lock.lock();
    try {
      for (VolumeState v : volumes.values()) {
        Long resume = null;
        for (WanMessage.VolumeResume r : w.volumes()) {
          if (r.name().equals(v.source.volume())) {
            resume = r.lastDurableSeq();
          }
        }
        if (resume == null) {
          throw new IllegalStateException("standby did not say where volume " + v.source.volume() + " resumes");
        }
        if (resume > v.source.lastSeq()) {
          throw new IllegalStateException(
              "standby holds volume " + v.source.volume() + " through seq " + resume + " but this primary only through " + v.source.lastSeq()
                  + ": the sites' histories diverged; refusing to ship");
        }
        v.nextSeq = resume + 1;
        v.lastSent = resume;
        v.acked = resume;
        v.inflight.clear();
        v.inflightBytes = 0;
      }
    } finally {
      lock.unlock();
    }
    for (VolumeState v : volumes.values()) {
      v.source.peerDurable(v.acked);
    }
    peerSiteId = w.siteId();
    connected = true;
    lastError = null;
    LOG.log(Level.INFO, "WAN link to {0} ({1}) up; resuming {2}", address, w.siteId(), w.volumes());
    ship(ch);
  }

  private void ship(Channel ch) {
    while (!closing && ch.isActive()) {
      boolean sent = false;
      for (VolumeState v : volumes.values()) {
        while (ch.isActive() && ch.isWritable()) {
          long from;
          lock.lock();
          try {
            if (v.inflightBytes >= config.windowBytes()) {
              break;
            }
            from = v.nextSeq;
          } finally {
            lock.unlock();
          }
          List<JournalEntry> entries = v.source.read(from, config.maxBatchBytes());
          if (entries.isEmpty()) {
            break;
          }
          WanMessage.Batch batch = new WanMessage.Batch(v.source.volume(), entries);
          long bytes = batch.rawBytes();
          lock.lock();
          try {
            v.nextSeq = batch.lastSeq() + 1;
            v.lastSent = batch.lastSeq();
            v.inflight.add(new long[] {batch.lastSeq(), bytes});
            v.inflightBytes += bytes;
          } finally {
            lock.unlock();
          }
          raw.addAndGet(bytes);
          ch.write(batch);
          sent = true;
        }
      }
      if (sent) {
        ch.flush();
      } else {
        pause(config.heartbeat());
      }
    }
    if (!closing) {
      throw new IllegalStateException(lastError != null ? lastError : "connection to the standby closed");
    }
  }

  private void acked(String volume, long seq) {
    VolumeState v = volumes.get(volume);
    if (v == null) {
      return;
    }
    lock.lock();
    try {
      if (seq > v.acked) {
        v.acked = seq;
      }
      while (!v.inflight.isEmpty() && v.inflight.peek()[0] <= seq) {
        v.inflightBytes -= v.inflight.poll()[1];
      }
      signalled = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
    v.source.peerDurable(seq);
  }

  private final class Handler extends SimpleChannelInboundHandler<WanMessage> {
    private final CompletableFuture<WanMessage.Welcome> welcome;

    Handler(CompletableFuture<WanMessage.Welcome> welcome) {
      this.welcome = welcome;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WanMessage msg) {
      switch (msg) {
        case WanMessage.Welcome w -> welcome.complete(w);
        case WanMessage.Ack a -> acked(a.volume(), a.durableSeq());
        case WanMessage.Refuse r -> {
          lastError = "standby refused the link: " + r.reason();
          LOG.log(Level.WARNING, "WAN link to {0}: {1}", address, lastError);
          welcome.completeExceptionally(new IllegalStateException(lastError));
          ctx.close();
        }
        case WanMessage.Heartbeat h -> {}
        default -> {
          lastError = "standby sent an unexpected " + msg.getClass().getSimpleName();
          ctx.close();
        }
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt instanceof IdleStateEvent e) {
        if (e.state() == IdleState.READER_IDLE) {
          lastError = "no word from the standby for " + config.heartbeat().multipliedBy(3).toMillis() + " ms";
          ctx.close();
        } else if (e.state() == IdleState.WRITER_IDLE && connected) {
          ctx.writeAndFlush(new WanMessage.Heartbeat());
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
      welcome.completeExceptionally(new java.io.IOException(lastError != null ? lastError : "standby closed the connection"));
      signal();
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      lastError = reason(cause);
      welcome.completeExceptionally(cause);
      ctx.close();
    }
  }

  public LinkSnapshot snapshot() {
    Map<String, Long> sent = new LinkedHashMap<>();
    Map<String, Long> acked = new LinkedHashMap<>();
    for (var e : volumes.entrySet()) {
      sent.put(e.getKey(), e.getValue().lastSent);
      acked.put(e.getKey(), e.getValue().acked);
    }
    return new LinkSnapshot(connected, peerSiteId, address, sent, acked, raw.get(), wire.written(), lastError);
  }

  @Override
  public void close() {
    if (closing) {
      return;
    }
    closing = true;
    signal();
    Channel ch = channel;
    if (ch != null) {
      ch.close();
    }
    try {
      agent.join(TimeUnit.SECONDS.toMillis(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
