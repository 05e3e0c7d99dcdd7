package io.kagami.wan.frame;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import java.util.concurrent.atomic.LongAdder;

/** Counts the bytes crossing the socket (placed outermost, so after TLS): what the WAN carries. */
@ChannelHandler.Sharable
public final class ByteCounter extends ChannelDuplexHandler {
  private final LongAdder written = new LongAdder();
  private final LongAdder read = new LongAdder();

  @Override
  public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
    if (msg instanceof ByteBuf b) {
      written.add(b.readableBytes());
    }
    ctx.write(msg, promise);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (msg instanceof ByteBuf b) {
      read.add(b.readableBytes());
    }
    ctx.fireChannelRead(msg);
  }

  public long written() {
    return written.sum();
  }

  public long read() {
    return read.sum();
  }
}
