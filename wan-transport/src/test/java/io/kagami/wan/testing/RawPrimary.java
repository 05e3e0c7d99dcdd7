package io.kagami.wan.testing;

import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.tls.SiteCredentials;
import io.kagami.wan.tls.Tls;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslHandler;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A primary played by the test over real TLS: sends raw bytes or frames of its choosing and
 * collects what the standby answers.
 */
public final class RawPrimary implements AutoCloseable {
  private final EventLoopGroup group;
  private final Channel channel;
  private final BlockingQueue<WanMessage> inbound = new LinkedBlockingQueue<>();

  public RawPrimary(int port, SiteCredentials own, X509Certificate standby)
      throws InterruptedException {
    group =
        new MultiThreadIoEventLoopGroup(
            1,
            Thread.ofPlatform().name("raw-primary-", 0).daemon(true).factory(),
            NioIoHandler.newFactory());
    channel =
        new Bootstrap()
            .group(group)
            .channel(NioSocketChannel.class)
            .handler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    ch.pipeline()
                        .addLast(Tls.client(own, standby).newHandler(ch.alloc()))
                        .addLast(new WanCodec(64 << 20))
                        .addLast(
                            new SimpleChannelInboundHandler<WanMessage>() {
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
            .connect(Sites.HOST, port)
            .sync()
            .channel();
    channel.pipeline().get(SslHandler.class).handshakeFuture().sync();
  }

  public void sendRaw(byte[] bytes) {
    channel.writeAndFlush(Unpooled.wrappedBuffer(bytes)).syncUninterruptibly();
  }

  public void send(WanMessage m) {
    channel.writeAndFlush(m).syncUninterruptibly();
  }

  /** Closes the connection from this side. */
  public void disconnect() {
    channel.close().syncUninterruptibly();
  }

  public WanMessage next(Duration timeout) throws InterruptedException {
    WanMessage m = inbound.poll(timeout.toMillis(), TimeUnit.MILLISECONDS);
    if (m == null) {
      throw new AssertionError("the standby sent nothing within " + timeout);
    }
    return m;
  }

  /** True when the standby closed the connection within {@code timeout}. */
  public boolean awaitClosed(Duration timeout) throws InterruptedException {
    return channel.closeFuture().await(timeout.toMillis());
  }

  @Override
  public void close() {
    channel.close().syncUninterruptibly();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
