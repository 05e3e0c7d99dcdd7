package io.kagami.replicator.nbd;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.flush.FlushConsolidationHandler;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The NBD listener of a site: every connection gets its own {@link NbdSession}; replies of many
 * completions are coalesced into few socket writes.
 */
public final class NbdServer implements AutoCloseable {
  private final NbdServerConfig config;
  private final Exports exports;
  private EventLoopGroup boss;
  private EventLoopGroup workers;
  private Channel server;

  public NbdServer(NbdServerConfig config, Exports exports) {
    this.config = config;
    this.exports = exports;
  }

  public void start() {
    boss = new MultiThreadIoEventLoopGroup(1, Thread.ofPlatform().name("kagami-nbd-accept-", 0).daemon(true).factory(), NioIoHandler.newFactory());
    workers = new MultiThreadIoEventLoopGroup(2, Thread.ofPlatform().name("kagami-nbd-", 0).daemon(true).factory(), NioIoHandler.newFactory());
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
                    ch.pipeline().addLast(new FlushConsolidationHandler(64, true)).addLast(new NbdSession(config, exports));
                  }
                });
    try {
      server = b.bind(config.host(), config.port()).sync().channel();
    } catch (Exception e) {
      close();
      throw new IllegalStateException("cannot listen for NBD on " + config.host() + ":" + config.port() + ": " + e.getMessage(), e);
    }
  }

  public int port() {
    return ((InetSocketAddress) server.localAddress()).getPort();
  }

  @Override
  public void close() {
    if (server != null) {
      server.close().syncUninterruptibly();
      server = null;
    }
    if (workers != null) {
      workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
      workers = null;
    }
    if (boss != null) {
      boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
      boss = null;
    }
  }
}
