package io.kagami.replicator.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;

/** An NBD connection without a socket: the server's pipeline on an {@link EmbeddedChannel}. */
final class EmbeddedNbd {
  private EmbeddedNbd() {}

  /**
   * A connection with the server's pipeline, already active (the greeting is waiting), time frozen.
   */
  static EmbeddedChannel channel(NbdServerConfig config, Exports exports) {
    return channel(config, exports, InFlightShare.unlimited());
  }

  /** Like {@link #channel(NbdServerConfig, Exports)}, taking payload bytes from {@code share}. */
  static EmbeddedChannel channel(NbdServerConfig config, Exports exports, InFlightShare share) {
    EmbeddedChannel ch =
        new EmbeddedChannel(
            new ChannelInitializer<Channel>() {
              @Override
              protected void initChannel(Channel c) {
                NbdServer.initPipeline(c, config, exports, new ClientLog(SystemTime.NANO), share);
              }
            });
    ch.freezeTime();
    return ch;
  }

  /** Everything the server has written so far, as one heap buffer the caller releases. */
  static ByteBuf sent(EmbeddedChannel ch) {
    ch.runPendingTasks();
    ByteBuf all = Unpooled.buffer();
    ByteBuf b;
    while ((b = ch.readOutbound()) != null) {
      all.writeBytes(b);
      b.release();
    }
    return all;
  }

  static void receive(EmbeddedChannel ch, byte[] bytes) {
    ch.writeInbound(Unpooled.wrappedBuffer(bytes));
    ch.runPendingTasks();
  }

  static byte[] option(int option, byte[] data) {
    return ByteBuffer.allocate(16 + data.length)
        .putLong(NbdProtocol.IHAVEOPT)
        .putInt(option)
        .putInt(data.length)
        .put(data)
        .array();
  }

  static byte[] clientFlags(int flags) {
    return ByteBuffer.allocate(4).putInt(flags).array();
  }

  static byte[] request(int type, int flags, long cookie, long offset, int length, byte[] payload) {
    ByteBuffer b = ByteBuffer.allocate(28 + (payload == null ? 0 : payload.length));
    b.putInt(NbdProtocol.REQUEST_MAGIC)
        .putShort((short) flags)
        .putShort((short) type)
        .putLong(cookie)
        .putLong(offset)
        .putInt(length);
    if (payload != null) {
      b.put(payload);
    }
    return b.array();
  }

  /** Greets, sends fixed-newstyle flags and NBD_OPT_GO, and drops the handshake replies. */
  static void enterTransmission(EmbeddedChannel ch, String export) {
    sent(ch).release();
    receive(
        ch,
        clientFlags(NbdProtocol.CLIENT_FLAG_FIXED_NEWSTYLE | NbdProtocol.CLIENT_FLAG_NO_ZEROES));
    receive(ch, option(NbdProtocol.OPT_GO, RawNbdClient.goData(export)));
    sent(ch).release();
    assertThat(ch.pipeline().get(NbdServer.SESSION_HANDLER))
        .as("session after NBD_OPT_GO")
        .isNotNull();
  }
}
