package io.kagami.wan.receive;

import io.kagami.wan.frame.ByteCounter;
import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.tls.SiteCredentials;
import io.kagami.wan.tls.Tls;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
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
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * The standby's end of the WAN link: accepts primaries (mutual TLS 1.3, pinned certificates),
 * checks each HELLO against the certificate that presented it and against the {@link
 * ReceiverCatalog}, answers WELCOME with each volume's last durable sequence number, then stores
 * every BATCH durably, in order per volume, before acknowledging it.
 *
 * <p>A malformed frame, a refused HELLO or a failed store closes only that connection, with one
 * log line giving the peer and the reason; the listener keeps serving everyone else.
 */
public final class Receiver implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Receiver.class.getName());

  private final ReceiverConfig config;
  private final ReceiverCatalog catalog;
  private final SslContext ssl;
  private final ByteCounter wire = new ByteCounter();
  private final Map<String, Channel> peers = new ConcurrentHashMap<>();
  private final Map<String, Long> durable = new ConcurrentHashMap<>();
  private EventLoopGroup boss;
  private EventLoopGroup workers;
  private Channel server;
  private volatile String lastError;

  public Receiver(ReceiverConfig config, ReceiverCatalog catalog) {
    this.config = config;
    this.catalog = catalog;
    this.ssl = Tls.server(config.credentials(), config.peerCertificates());
  }

  public void start() {
    boss = new MultiThreadIoEventLoopGroup(1, Thread.ofPlatform().name("kagami-wan-accept-", 0).daemon(true).factory(), NioIoHandler.newFactory());
    workers = new MultiThreadIoEventLoopGroup(2, Thread.ofPlatform().name("kagami-wan-recv-", 0).daemon(true).factory(), NioIoHandler.newFactory());
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
                    ch.pipeline()
                        .addLast(wire)
                        .addLast(ssl.newHandler(ch.alloc()))
                        .addLast(new WanCodec(config.maxFrameBytes()))
                        .addLast(new IdleStateHandler(config.heartbeat().toMillis() * 3, config.heartbeat().toMillis(), 0, TimeUnit.MILLISECONDS))
                        .addLast(new Session());
                  }
                });
    try {
      server = b.bind(config.host(), config.port()).sync().channel();
    } catch (Exception e) {
      close();
      throw new IllegalStateException("cannot listen for WAN connections on " + config.host() + ":" + config.port() + ": " + e.getMessage(), e);
    }
  }

  public int port() {
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  /** Site ids of the primaries connected now. */
  public Set<String> connectedPeers() {
    return Set.copyOf(peers.keySet());
  }

  public long wireBytesReceived() {
    return wire.read();
  }

  public String lastError() {
    return lastError;
  }

  /** One primary's connection. State lives on its event loop thread. */
  private final class Session extends SimpleChannelInboundHandler<WanMessage> {
    private String siteId;
    private final Map<String, ReceiveSink> sinks = new HashMap<>();
    private final Map<String, CompletableFuture<Long>> tails = new HashMap<>();

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, WanMessage msg) {
      switch (msg) {
        case WanMessage.Hello h -> hello(ctx, h);
        case WanMessage.Batch b -> batch(ctx, b);
        case WanMessage.Heartbeat h -> {}
        case WanMessage.Refuse r -> {
          LOG.log(Level.WARNING, "WAN peer {0} closed the link: {1}", ctx.channel().remoteAddress(), r.reason());
          ctx.close();
        }
        default -> refuse(ctx, "unexpected " + msg.getClass().getSimpleName() + " from a primary");
      }
    }

    private void hello(ChannelHandlerContext ctx, WanMessage.Hello h) {
      if (siteId != null) {
        refuse(ctx, "second HELLO on one connection");
        return;
      }
      if (h.version() != WanCodec.VERSION) {
        refuse(ctx, "protocol version " + h.version() + " is not supported (this standby speaks " + WanCodec.VERSION + ")");
        return;
      }
      String cn;
      try {
        Certificate[] chain = ctx.pipeline().get(SslHandler.class).engine().getSession().getPeerCertificates();
        cn = SiteCredentials.commonName((X509Certificate) chain[0]);
      } catch (SSLPeerUnverifiedException e) {
        refuse(ctx, "no verified client certificate");
        return;
      }
      if (!cn.equals(h.siteId())) {
        refuse(ctx, "HELLO claims site \"" + h.siteId() + "\" but the certificate is for \"" + cn + "\"");
        return;
      }
      List<WanMessage.VolumeResume> resume = new ArrayList<>();
      for (WanMessage.VolumeOffer v : h.volumes()) {
        try {
          ReceiveSink sink = catalog.sink(h.siteId(), v.name(), v.sizeBytes());
          sinks.put(v.name(), sink);
          tails.put(v.name(), CompletableFuture.completedFuture(sink.lastDurableSeq()));
          resume.add(new WanMessage.VolumeResume(v.name(), sink.lastDurableSeq()));
        } catch (LinkRefusedException e) {
          refuse(ctx, e.getMessage());
          return;
        }
      }
      siteId = h.siteId();
      Channel previous = peers.put(siteId, ctx.channel());
      if (previous != null && previous != ctx.channel()) {
        // A primary reconnecting after a half-open connection: the new link wins.
        LOG.log(Level.INFO, "WAN peer {0} reconnected; closing its previous connection", siteId);
        previous.close();
      }
      LOG.log(Level.INFO, "WAN peer {0} ({1}) connected; resume points {2}", siteId, ctx.channel().remoteAddress(), resume);
      ctx.writeAndFlush(new WanMessage.Welcome(config.credentials().siteId(), resume));
    }

    private void batch(ChannelHandlerContext ctx, WanMessage.Batch b) {
      if (siteId == null) {
        refuse(ctx, "BATCH before HELLO");
        return;
      }
      ReceiveSink sink = sinks.get(b.volume());
      if (sink == null) {
        refuse(ctx, "BATCH for volume " + b.volume() + " which was not offered in the HELLO");
        return;
      }
      String volume = b.volume();
      CompletableFuture<Long> tail = tails.get(volume).thenCompose(ignored -> sink.store(b.entries()));
      tails.put(volume, tail);
      tail.whenComplete(
          (seq, err) -> {
            if (err != null) {
              Throwable c = err.getCause() != null ? err.getCause() : err;
              ctx.executor().execute(() -> refuse(ctx, "storing volume " + volume + " failed: " + c.getMessage()));
              return;
            }
            durable.merge(volume, seq, Math::max);
            ctx.writeAndFlush(new WanMessage.Ack(volume, seq));
          });
    }

    private void refuse(ChannelHandlerContext ctx, String reason) {
      lastError = reason;
      LOG.log(Level.WARNING, "WAN peer {0}: {1}; closing the connection", ctx.channel().remoteAddress(), reason);
      if (ctx.channel().isActive()) {
        ctx.writeAndFlush(new WanMessage.Refuse(reason)).addListener(f -> ctx.close());
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
      if (evt instanceof IdleStateEvent e) {
        if (e.state() == IdleState.READER_IDLE) {
          LOG.log(Level.WARNING, "WAN peer {0}: silent for {1} ms; closing", ctx.channel().remoteAddress(), config.heartbeat().multipliedBy(3).toMillis());
          ctx.close();
        } else if (e.state() == IdleState.WRITER_IDLE && siteId != null) {
          ctx.writeAndFlush(new WanMessage.Heartbeat());
        }
      }
      super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
      if (siteId != null) {
        peers.remove(siteId, ctx.channel());
      }
      super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      Throwable t = cause;
      String reason = t.getMessage();
      while (t.getCause() != null) {
        t = t.getCause();
        if (t.getMessage() != null) {
          reason = t.getMessage();
        }
      }
      lastError = reason;
      LOG.log(Level.WARNING, "WAN peer {0}: {1}; closing the connection", ctx.channel().remoteAddress(), reason);
      ctx.close();
    }
  }

  @Override
  public void close() {
    if (server != null) {
      server.close().syncUninterruptibly();
      server = null;
    }
    for (Channel c : peers.values()) {
      c.close();
    }
    if (workers != null) {
      workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
    if (boss != null) {
      boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
  }
}
