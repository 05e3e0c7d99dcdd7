package io.kagami.replicator.nbd;

import io.kagami.clock.SystemTime;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The NBD listener of a site: accepts connections, runs each through the fixed-newstyle handshake
 * ({@link NbdHandshakeHandler}) and then serves its export ({@link NbdRequestDecoder}, {@link
 * NbdSession}); a failing connection is closed by {@link NbdConnectionGuard} without affecting the
 * others.
 *
 * <p>Pipeline of a connection: flush consolidation → handshake (later: request decoder → session) →
 * guard. Replies of many completions are coalesced into few socket writes.
 *
 * <p>Lifecycle: NEW → RUNNING ({@link #start()}) → CLOSED ({@link #close()}, idempotent). Close
 * stops accepting, asks every connection to finish the requests it has handed to a device (new ones
 * get ESHUTDOWN), waits up to {@code drainTimeout}, closes what is left, then stops the event
 * loops. Neither method may be called from an event-loop thread. Thread-safe.
 */
public final class NbdServer implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(NbdServer.class.getName());

  static final String FLUSH_HANDLER = "flush";
  static final String HANDSHAKE_HANDLER = "nbd-handshake";
  static final String REQUESTS_HANDLER = "nbd-requests";
  static final String SESSION_HANDLER = "nbd-session";
  static final String GUARD_HANDLER = "nbd-guard";

  /**
   * Outbound bytes queued per connection above which it is not read until they drain: a client that
   * does not read its replies cannot make the server buffer without bound.
   */
  private static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(2 << 20, 8 << 20);

  /** Largest single socket read (see the child options in {@link #start}). */
  private static final int MAX_READ_BYTES = 1 << 20;

  /** Tells every stage of a connection that the server is closing. */
  enum ShutdownEvent {
    INSTANCE
  }

  private enum State {
    NEW,
    RUNNING,
    CLOSED
  }

  private final NbdServerConfig config;
  private final InFlightShare share;
  private final Exports exports;
  private final Set<Channel> connections = ConcurrentHashMap.newKeySet();
  private final ClientLog clientLog = new ClientLog(SystemTime.NANO);
  private State state = State.NEW;
  private EventLoopGroup acceptor;
  private EventLoopGroup workers;
  private Channel listener;

  public NbdServer(NbdServerConfig config, Exports exports) {
    this(config, exports, InFlightShare.unlimited());
  }

  /**
   * {@code share}: payload bytes all connections together may have with their devices (a share of
   * the site's memory budget); beyond it requests wait unread (see {@link InFlightShare}).
   */
  public NbdServer(NbdServerConfig config, Exports exports, InFlightShare share) {
    this.config = Objects.requireNonNull(config, "config");
    this.exports = Objects.requireNonNull(exports, "exports");
    this.share = Objects.requireNonNull(share, "share");
  }

  /**
   * Binds the listener and starts serving.
   *
   * @return the bound port (the ephemeral one when the configured port is 0)
   * @throws IllegalStateException if already started or closed, or the address cannot be bound
   */
  public synchronized int start() {
    if (state != State.NEW) {
      throw new IllegalStateException(
          "NBD server is " + state.name().toLowerCase(Locale.ROOT) + "; it can be started once");
    }
    state = State.RUNNING;
    acceptor =
        new MultiThreadIoEventLoopGroup(
            1, new DefaultThreadFactory("kagami-nbd-accept", true), NioIoHandler.newFactory());
    workers =
        new MultiThreadIoEventLoopGroup(
            config.ioThreads(),
            new DefaultThreadFactory("kagami-nbd", true),
            NioIoHandler.newFactory());
    ServerBootstrap bootstrap =
        new ServerBootstrap()
            .group(acceptor, workers)
            .channel(NioServerSocketChannel.class)
            .option(ChannelOption.SO_REUSEADDR, true)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childOption(ChannelOption.SO_KEEPALIVE, true)
            .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
            // Reads of up to 1 MiB (Netty's default stops at 64 KiB): a 1 MiB WRITE then arrives in
            // a few reads, not 16 or more, each one fewer syscall; the buffer grows only on
            // connections whose reads fill it. Measured at 1 MiB writes: 610-710 vs 446-550 MiB/s.
            // The decoder copies payloads out and releases each buffer once read, so this is memory
            // per read under way, not per connection (but for one kept by a connection whose next
            // WRITE waits for the in-flight share).
            .childOption(
                ChannelOption.RECVBUF_ALLOCATOR,
                new AdaptiveRecvByteBufAllocator(64, 2048, MAX_READ_BYTES))
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    connections.add(ch);
                    ch.closeFuture().addListener(f -> connections.remove(ch));
                    initPipeline(ch, config, exports, clientLog, share);
                  }
                });
    try {
      listener = bootstrap.bind(config.bindHost(), config.port()).syncUninterruptibly().channel();
    } catch (Exception e) { // syncUninterruptibly rethrows the bind's checked exception as is
      close();
      throw new IllegalStateException(
          "cannot listen for NBD clients on "
              + config.bindHost()
              + ":"
              + config.port()
              + ": "
              + e.getMessage(),
          e);
    }
    LOG.log(
        Level.INFO,
        "NBD server listening on {0} with exports {1}",
        listener.localAddress(),
        exports.names());
    return port();
  }

  /** The stages every connection starts with; shared with handler tests. */
  static void initPipeline(
      Channel ch, NbdServerConfig config, Exports exports, ClientLog clientLog) {
    initPipeline(ch, config, exports, clientLog, InFlightShare.unlimited());
  }

  static void initPipeline(
      Channel ch,
      NbdServerConfig config,
      Exports exports,
      ClientLog clientLog,
      InFlightShare share) {
    ch.pipeline()
        .addLast(
            FLUSH_HANDLER,
            new FlushConsolidationHandler(
                FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true))
        .addLast(HANDSHAKE_HANDLER, new NbdHandshakeHandler(config, exports, clientLog, share))
        .addLast(GUARD_HANDLER, new NbdConnectionGuard(clientLog));
  }

  /**
   * Log lines about clients that the per-address limit dropped since the server started (a flood of
   * bad input shows here, not in the log).
   */
  public long droppedClientLogLines() {
    return clientLog.dropped();
  }

  /** The bound port. */
  public synchronized int port() {
    return localAddress().getPort();
  }

  public synchronized InetSocketAddress localAddress() {
    if (state != State.RUNNING || listener == null) {
      throw new IllegalStateException("NBD server is not running");
    }
    return (InetSocketAddress) listener.localAddress();
  }

  /** The export a connection in transmission serves. */
  static final io.netty.util.AttributeKey<String> EXPORT =
      io.netty.util.AttributeKey.valueOf("kagami.nbd.export");

  /**
   * Closes the connections serving export {@code name} (e.g. after removing it from the exports):
   * requests in flight are abandoned. Returns how many were closed.
   */
  public int closeConnections(String name) {
    int n = 0;
    for (Channel ch : List.copyOf(connections)) {
      if (name.equals(ch.attr(EXPORT).get())) {
        ch.close().awaitUninterruptibly();
        n++;
      }
    }
    return n;
  }

  /** Connections currently open (in handshake or transmission). */
  public int connectionCount() {
    return connections.size();
  }

  @Override
  public synchronized void close() {
    if (state == State.CLOSED) {
      return;
    }
    state = State.CLOSED;
    if (listener != null) {
      listener.close().syncUninterruptibly();
      listener = null;
    }
    List<Channel> open = List.copyOf(connections);
    if (!open.isEmpty()) {
      LOG.log(
          Level.INFO,
          "NBD server closing: finishing the requests of {0} connection(s)",
          String.valueOf(open.size()));
    }
    for (Channel ch : open) {
      try {
        ch.eventLoop().execute(() -> ch.pipeline().fireUserEventTriggered(ShutdownEvent.INSTANCE));
      } catch (RejectedExecutionException e) {
        ch.close();
      }
    }
    long deadline = SystemTime.NANO.nanoTime() + config.drainTimeout().toNanos();
    for (Channel ch : open) {
      long left = deadline - SystemTime.NANO.nanoTime();
      if (left <= 0 || !ch.closeFuture().awaitUninterruptibly(left, TimeUnit.NANOSECONDS)) {
        LOG.log(
            Level.WARNING,
            "NBD client {0}: requests still with the device after {1}; closing the connection regardless",
            ch.remoteAddress(),
            config.drainTimeout());
        ch.close().awaitUninterruptibly();
      }
    }
    if (workers != null) {
      workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
      workers = null;
    }
    if (acceptor != null) {
      acceptor.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
      acceptor = null;
    }
  }
}
