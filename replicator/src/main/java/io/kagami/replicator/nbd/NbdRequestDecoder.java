package io.kagami.replicator.nbd;

import static io.kagami.replicator.nbd.NbdProtocol.CMD_DISC;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_WRITE;
import static io.kagami.replicator.nbd.NbdProtocol.REQUEST_HEADER_BYTES;
import static io.kagami.replicator.nbd.NbdProtocol.REQUEST_MAGIC;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.util.List;

/**
 * Splits the transmission-phase byte stream into {@link NbdRequest}s.
 *
 * <p>Request layout (big-endian):
 *
 * <pre>
 * offset  size  field
 * 0       4     magic 0x25609513 (anything else ends the connection)
 * 4       2     command flags (bit 0 FUA, bit 1 NO_HOLE)
 * 6       2     type (0 READ, 1 WRITE, 2 DISC, 3 FLUSH, 4 TRIM, 6 WRITE_ZEROES)
 * 8       8     cookie (opaque, echoed in the reply)
 * 16      8     offset (unsigned)
 * 24      4     length (unsigned)
 * 28      n     payload: WRITE only, n = length
 * </pre>
 *
 * A WRITE payload arrives as a retained slice of the received buffers (no copy; a large one spans
 * several). A WRITE longer than the maximum block size is read and thrown away as it streams in,
 * never buffered, and then passed on marked {@code oversized} so the session can refuse it; the
 * stream stays in sync. After DISC nothing more is read: the protocol forbids the client to send
 * anything after it.
 *
 * <p>Confined to the channel's event loop.
 */
final class NbdRequestDecoder extends ByteToMessageDecoder {
  private enum State {
    HEADER,
    DISCARD_PAYLOAD,
    DISCONNECTED,
    FAILED
  }

  private final int maximumBlockSize;
  private State state = State.HEADER;
  private NbdRequest discarding;
  private long discardLeft;
  private String truncation;

  NbdRequestDecoder(NbdServerConfig config) {
    this.maximumBlockSize = config.maximumBlockSize();
    // Received buffers are chained, not copied into one: a 1 MiB WRITE arrives in many reads,
    // and merging them cost a copy of every byte (and moving leftovers to the front) before the
    // device's own copy into its journal record, which reads the pieces where they are.
    setCumulator(COMPOSITE_CUMULATOR);
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    switch (state) {
      case HEADER -> header(ctx, in, out);
      case DISCARD_PAYLOAD -> discard(in, out);
      case DISCONNECTED, FAILED -> in.skipBytes(in.readableBytes());
    }
  }

  private void header(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    if (in.readableBytes() < REQUEST_HEADER_BYTES) {
      return;
    }
    int start = in.readerIndex();
    int magic = in.getInt(start);
    if (magic != REQUEST_MAGIC) {
      state = State.FAILED;
      in.skipBytes(in.readableBytes());
      ctx.fireExceptionCaught(
          new NbdProtocolException(
              String.format("bad request magic 0x%08x (expected 0x%08x)", magic, REQUEST_MAGIC)));
      return;
    }
    int flags = in.getUnsignedShort(start + 4);
    int type = in.getUnsignedShort(start + 6);
    long cookie = in.getLong(start + 8);
    long offset = in.getLong(start + 16);
    long length = in.getUnsignedInt(start + 24);
    if (type == CMD_WRITE) {
      if (length > maximumBlockSize) {
        in.skipBytes(REQUEST_HEADER_BYTES);
        discarding = new NbdRequest(flags, type, cookie, offset, length, null, true);
        discardLeft = length;
        state = State.DISCARD_PAYLOAD;
        discard(in, out);
        return;
      }
      if (in.readableBytes() < REQUEST_HEADER_BYTES + length) {
        return; // the payload is still streaming in
      }
      in.skipBytes(REQUEST_HEADER_BYTES);
      out.add(
          new NbdRequest(
              flags, type, cookie, offset, length, in.readRetainedSlice((int) length), false));
      return;
    }
    in.skipBytes(REQUEST_HEADER_BYTES);
    out.add(new NbdRequest(flags, type, cookie, offset, length, null, false));
    if (type == CMD_DISC) {
      state = State.DISCONNECTED;
    }
  }

  private void discard(ByteBuf in, List<Object> out) {
    int n = (int) Math.min(discardLeft, in.readableBytes());
    in.skipBytes(n);
    discardLeft -= n;
    if (discardLeft == 0) {
      out.add(discarding);
      discarding = null;
      state = State.HEADER;
    }
  }

  @Override
  protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    // The peer is gone: whatever is left is an incomplete request (complete ones were decoded as
    // they arrived). Note it for the session's log line; nothing of it is executed.
    if (state == State.DISCARD_PAYLOAD) {
      truncation =
          "an oversized WRITE was cut off with "
              + (discardLeft - in.readableBytes())
              + " of its "
              + discarding.length()
              + " payload bytes unsent";
    } else if (state == State.HEADER && in.isReadable()) {
      int have = in.readableBytes();
      if (have >= REQUEST_HEADER_BYTES && in.getUnsignedShort(in.readerIndex() + 6) == CMD_WRITE) {
        long length = in.getUnsignedInt(in.readerIndex() + 24);
        truncation =
            "a "
                + length
                + "-byte WRITE was cut off after "
                + (have - REQUEST_HEADER_BYTES)
                + " payload bytes";
      } else {
        truncation =
            "a request header was cut off after " + have + " of " + REQUEST_HEADER_BYTES + " bytes";
      }
    }
    in.skipBytes(in.readableBytes());
  }

  /** Why the stream ended in the middle of a request, or null if it did not. */
  String truncation() {
    return truncation;
  }
}
