package io.kagami.replicator.nbd;

import static io.kagami.replicator.nbd.NbdProtocol.CMD_DISC;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_WRITE;
import static io.kagami.replicator.nbd.NbdProtocol.REQUEST_HEADER_BYTES;
import static io.kagami.replicator.nbd.NbdProtocol.REQUEST_MAGIC;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.nio.ByteBuffer;
import java.util.function.IntSupplier;

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
 * <p>Memory: a WRITE's payload bytes are admitted ({@link Admission}, the session's limits and the
 * server's in-flight share) when its header arrives, before any of them is kept; then they are
 * copied, as they arrive, into an array of their own ({@code headroom} bytes before the data, so
 * the device can use it as its record without another copy), and every received buffer is released
 * as soon as it is read. So a connection never holds more than its admitted payloads plus, while
 * its next WRITE waits for admission, the rest of the one receive buffer it last read (the socket
 * is not read meanwhile). Slices of the receive buffers (no copy) would pin each whole buffer for
 * as long as any payload in it waits, and a payload arriving in many reads pins many: under 32
 * connections of 1 MiB writes that held hundreds of MiB off the heap, uncounted.
 *
 * <p>A WRITE longer than the maximum block size is read and thrown away as it streams in, never
 * buffered, and then passed on marked {@code oversized} so the session can refuse it; so is one the
 * session says it refuses anyway ({@link Admission#refusesWrite}: beyond the export, read-only,
 * misaligned), passed on without its payload for the session to answer with the error it chose.
 * Either way the stream stays in sync, and a length field alone never makes the server allocate
 * (found by fuzzing: 214 bytes of handshake and one WRITE header allocated 4.9 MB). After DISC
 * nothing more is read: the protocol forbids the client to send anything after it.
 *
 * <p>Confined to the channel's event loop.
 */
final class NbdRequestDecoder extends ChannelInboundHandlerAdapter {

  /** Admits a WRITE's payload bytes before they are received; the session's. */
  interface Admission {
    /**
     * Whether {@code bytes} of payload may be received now; they are then counted until the request
     * is done (or {@link #abandoned}). When not, the decoder waits for {@link #resume}.
     */
    boolean admitWrite(long bytes);

    /**
     * Whether a WRITE with this header will be refused whatever its payload (a read-only export, a
     * range beyond the export, misaligned, unknown flags): its payload is then read and thrown away
     * as it streams in, never held, and the request passed on without it for the session to answer.
     * Asked before {@link #admitWrite}, so a length field is never trusted for memory it would not
     * be allowed to use.
     */
    default boolean refusesWrite(int flags, long offset, long length) {
      return false;
    }

    /** An admitted WRITE that will never reach the session (the connection ended mid-payload). */
    void abandoned(long bytes);

    /**
     * After each run of decoding: whether the socket may be read depends on the decoder's state
     * (receiving a payload, or a WRITE waiting for admission).
     */
    void decoded();

    /** Admits everything: a decoder without a session (tests). */
    Admission ALL =
        new Admission() {
          @Override
          public boolean admitWrite(long bytes) {
            return true;
          }

          @Override
          public void abandoned(long bytes) {}

          @Override
          public void decoded() {}
        };
  }

  private enum State {
    HEADER,
    ADMIT,
    PAYLOAD,
    DISCARD_PAYLOAD,
    DISCONNECTED,
    FAILED
  }

  private final int maximumBlockSize;
  private final IntSupplier headroom;
  private final byte[] header = new byte[REQUEST_HEADER_BYTES];
  private int headerHave;
  private State state = State.HEADER;
  private Admission admission = Admission.ALL;
  private ChannelHandlerContext ctx;

  /** Received bytes not yet decoded; null when none. */
  private ByteBuf pending;

  private int flags;
  private int type;
  private long cookie;
  private long offset;
  private long length;
  private byte[] payload;
  private int payloadAt;
  private int payloadHave;
  private long discardLeft;

  /** The WRITE being discarded is one the session refuses (not an oversized one). */
  private boolean refused;

  private String truncation;

  NbdRequestDecoder(NbdServerConfig config) {
    this(config, () -> 0);
  }

  /**
   * {@code headroom}: bytes to leave free before each WRITE payload in its array (the device's
   * record header, see {@code BlockDevice.writeHeadroom}; asked per write, as an export's device
   * may change role).
   */
  NbdRequestDecoder(NbdServerConfig config, IntSupplier headroom) {
    this.maximumBlockSize = config.maximumBlockSize();
    this.headroom = headroom;
  }

  void admission(Admission admission) {
    this.admission = admission;
  }

  /** Whether a WRITE's header is waiting for admission (the socket must not be read meanwhile). */
  boolean waitingForAdmission() {
    return state == State.ADMIT;
  }

  /**
   * Whether an admitted WRITE's payload is still arriving (the socket must be read, whatever the
   * session's limits: the payload is already counted in them).
   */
  boolean receivingPayload() {
    return state == State.PAYLOAD;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof ByteBuf in)) {
      ctx.fireChannelRead(msg);
      return;
    }
    if (state == State.DISCONNECTED || state == State.FAILED) {
      in.release();
      return;
    }
    if (pending == null) {
      pending = in;
    } else {
      // Only while a WRITE waits for admission: a read that was already under way.
      CompositeByteBuf both =
          pending instanceof CompositeByteBuf c
              ? c
              : ctx.alloc().compositeBuffer().addComponent(true, pending);
      pending = both.addComponent(true, in);
    }
    decode();
  }

  /** The session has room again: retries the WRITE waiting for admission, then decodes on. */
  void resume() {
    if (state == State.ADMIT) {
      decode();
    }
  }

  private void decode() {
    decodeAll();
    admission.decoded();
  }

  private void decodeAll() {
    while (true) {
      switch (state) {
        case HEADER -> {
          if (!readable()) {
            return;
          }
          if (!header()) {
            releaseIfConsumed();
            return;
          }
        }
        case ADMIT -> {
          if (admission.refusesWrite(flags, offset, length)) {
            discardLeft = length;
            refused = true;
            state = State.DISCARD_PAYLOAD;
          } else if (!admission.admitWrite(length)) {
            return; // the session resumes us; the socket is not read meanwhile
          } else {
            payloadAt = headroom.getAsInt();
            payload = new byte[Math.addExact(payloadAt, (int) length)];
            payloadHave = 0;
            state = State.PAYLOAD;
          }
        }
        case PAYLOAD -> {
          int n = (int) Math.min(length - payloadHave, readable() ? pending.readableBytes() : 0);
          if (n > 0) {
            pending.readBytes(payload, payloadAt + payloadHave, n);
            payloadHave += n;
          }
          if (payloadHave < length) {
            releaseIfConsumed();
            return;
          }
          ByteBuf data = Unpooled.wrappedBuffer(payload, payloadAt, (int) length);
          payload = null;
          state = State.HEADER;
          ctx.fireChannelRead(
              new NbdRequest(flags, type, cookie, offset, length, data, false, true));
        }
        case DISCARD_PAYLOAD -> {
          int n = (int) Math.min(discardLeft, readable() ? pending.readableBytes() : 0);
          if (n > 0) {
            pending.skipBytes(n);
            discardLeft -= n;
          }
          if (discardLeft > 0) {
            releaseIfConsumed();
            return;
          }
          state = State.HEADER;
          // Oversized, or refused by the session: either way without its payload.
          boolean oversized = !refused;
          refused = false;
          ctx.fireChannelRead(new NbdRequest(flags, type, cookie, offset, length, null, oversized));
        }
        case DISCONNECTED, FAILED -> {
          releasePending();
          return;
        }
      }
    }
  }

  private boolean readable() {
    if (pending != null && !pending.isReadable()) {
      releasePending();
    }
    return pending != null;
  }

  private void releaseIfConsumed() {
    if (pending != null && !pending.isReadable()) {
      releasePending();
    }
  }

  private void releasePending() {
    if (pending != null) {
      pending.release();
      pending = null;
    }
  }

  /** Gathers the header; false while it is incomplete. Passes on or sets up what it announces. */
  private boolean header() {
    int n = Math.min(REQUEST_HEADER_BYTES - headerHave, pending.readableBytes());
    pending.readBytes(header, headerHave, n);
    headerHave += n;
    if (headerHave < REQUEST_HEADER_BYTES) {
      return false;
    }
    headerHave = 0;
    ByteBuffer h = ByteBuffer.wrap(header);
    int magic = h.getInt(0);
    if (magic != REQUEST_MAGIC) {
      state = State.FAILED;
      releasePending();
      ctx.fireExceptionCaught(
          new NbdProtocolException(
              String.format("bad request magic 0x%08x (expected 0x%08x)", magic, REQUEST_MAGIC)));
      return false;
    }
    flags = Short.toUnsignedInt(h.getShort(4));
    type = Short.toUnsignedInt(h.getShort(6));
    cookie = h.getLong(8);
    offset = h.getLong(16);
    length = Integer.toUnsignedLong(h.getInt(24));
    if (type == CMD_WRITE) {
      if (length > maximumBlockSize) {
        discardLeft = length;
        state = State.DISCARD_PAYLOAD;
      } else {
        state = State.ADMIT;
      }
      return true;
    }
    ctx.fireChannelRead(new NbdRequest(flags, type, cookie, offset, length, null, false));
    if (type == CMD_DISC) {
      state = State.DISCONNECTED;
    }
    return true;
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt == NbdServer.ShutdownEvent.INSTANCE) {
      // Nothing more is decoded: a WRITE cut off here (waiting for admission or for the rest of its
      // payload) never reaches the device, and its admission is given back before the session
      // counts what it still waits for.
      abandon();
      state = State.DISCONNECTED;
    }
    super.userEventTriggered(ctx, evt);
  }

  private void abandon() {
    if (state == State.PAYLOAD) {
      payload = null;
      admission.abandoned(length);
    }
    releasePending();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    // The peer is gone: whatever is left is an incomplete request (complete ones were decoded as
    // they arrived). Note it for the session's log line; nothing of it is executed.
    int have = pending == null ? 0 : pending.readableBytes();
    switch (state) {
      case DISCARD_PAYLOAD ->
          truncation =
              (refused ? "a refused WRITE" : "an oversized WRITE")
                  + " was cut off with "
                  + (discardLeft - have)
                  + " of its "
                  + length
                  + " payload bytes unsent";
      case ADMIT, PAYLOAD ->
          truncation =
              "a "
                  + length
                  + "-byte WRITE was cut off after "
                  + (state == State.PAYLOAD ? payloadHave + have : have)
                  + " payload bytes";
      case HEADER -> {
        if (headerHave + have > 0) {
          truncation =
              "a request header was cut off after "
                  + (headerHave + have)
                  + " of "
                  + REQUEST_HEADER_BYTES
                  + " bytes";
        }
      }
      case DISCONNECTED, FAILED -> {}
    }
    abandon();
    state = State.DISCONNECTED;
    super.channelInactive(ctx);
  }

  @Override
  public void handlerRemoved(ChannelHandlerContext ctx) {
    abandon();
    state = State.DISCONNECTED;
  }

  /** Why the stream ended in the middle of a request, or null if it did not. */
  String truncation() {
    return truncation;
  }
}
