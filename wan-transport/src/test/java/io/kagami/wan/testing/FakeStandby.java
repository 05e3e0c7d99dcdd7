package io.kagami.wan.testing;

import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.tls.SiteCredentials;
import io.kagami.wan.tls.Tls;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetSocketAddress;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A standby played by the test, frame by frame: it accepts the pinned primary over real TLS, queues
 * whatever the shipper sends and answers only what the test tells it to (and, when idle, with
 * heartbeats every 100 ms, as a live standby does).
 */
public final class FakeStandby implements AutoCloseable {
  private final EventLoopGroup group;
  private final Channel server;
  private final BlockingQueue<WanMessage> inbound = new LinkedBlockingQueue<>();
  private volatile Channel peer;

  public FakeStandby(SiteCredentials own, X509Certificate primary) {
    SslContext ssl = Tls.server(own, List.of(primary));
    group =
        new MultiThreadIoEventLoopGroup(
            1,
            Thread.ofPlatform().name("fake-standby-", 0).daemon(true).factory(),
            NioIoHandler.newFactory());
    server =
        new ServerBootstrap()
            .group(group)
            .channel(NioServerSocketChannel.class)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    ch.pipeline()
                        .addLast(ssl.newHandler(ch.alloc()))
                        .addLast(new WanCodec(64 << 20))
                        .addLast(new IdleStateHandler(0, 100, 0, TimeUnit.MILLISECONDS))
                        .addLast(
                            new SimpleChannelInboundHandler<WanMessage>() {
                              @Override
                              public void userEventTriggered(
                                  ChannelHandlerContext ctx, Object evt) {
                                if (evt instanceof IdleStateEvent) {
                                  ctx.writeAndFlush(
                                      new WanMessage
                                          .Heartbeat()); // as a real standby does when idle
                                }
                              }

                              @Override
                              public void channelActive(ChannelHandlerContext ctx) {
                                peer = ctx.channel();
                              }

                              @Override
                              protected void channelRead0(
                                  ChannelHandlerContext ctx, WanMessage msg) {
                                inbound.add(msg);
                              }

                              @Override
                              public void exceptionCaught(
                                  ChannelHandlerContext ctx, Throwable cause) {
                                ctx.close();
                              }
                            });
                  }
                })
            .bind(Sites.HOST, 0)
            .syncUninterruptibly()
            .channel();
  }

  public int port() {
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  public WanMessage next(Duration timeout) throws InterruptedException {
    WanMessage m = inbound.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (m == null) {
      throw new AssertionError("the shipper sent nothing within " + timeout);
    }
    return m;
  }

  /** The next frame of {@code type}; heartbeats before it are skipped unless asked for. */
  public <T extends WanMessage> T next(Class<T> type, Duration timeout)
      throws InterruptedException {
    WanMessage m = next(timeout);
    while (m instanceof WanMessage.Heartbeat && type != WanMessage.Heartbeat.class) {
      m = next(timeout);
    }
    if (!type.isInstance(m)) {
      throw new AssertionError(
          "expected a " + type.getSimpleName() + " from the shipper, got " + m);
    }
    return type.cast(m);
  }

  public void send(WanMessage m) {
    peer.writeAndFlush(m).syncUninterruptibly();
  }

  /** Waits until the shipper's current connection is closed (by either side). */
  public boolean awaitDisconnect(Duration timeout) throws InterruptedException {
    return peer.closeFuture().await(timeout.toMillis());
  }

  @Override
  public void close() {
    server.close().syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
