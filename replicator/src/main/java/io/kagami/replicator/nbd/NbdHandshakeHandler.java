package io.kagami.replicator.nbd;

import static io.kagami.replicator.nbd.NbdProtocol.CLIENT_FLAG_NO_ZEROES;
import static io.kagami.replicator.nbd.NbdProtocol.FLAG_FIXED_NEWSTYLE;
import static io.kagami.replicator.nbd.NbdProtocol.FLAG_NO_ZEROES;
import static io.kagami.replicator.nbd.NbdProtocol.IHAVEOPT;
import static io.kagami.replicator.nbd.NbdProtocol.INFO_BLOCK_SIZE;
import static io.kagami.replicator.nbd.NbdProtocol.INFO_DESCRIPTION;
import static io.kagami.replicator.nbd.NbdProtocol.INFO_EXPORT;
import static io.kagami.replicator.nbd.NbdProtocol.INFO_NAME;
import static io.kagami.replicator.nbd.NbdProtocol.KNOWN_CLIENT_FLAGS;
import static io.kagami.replicator.nbd.NbdProtocol.MAX_STRING_BYTES;
import static io.kagami.replicator.nbd.NbdProtocol.NBDMAGIC;
import static io.kagami.replicator.nbd.NbdProtocol.OPTION_REPLY_MAGIC;
import static io.kagami.replicator.nbd.NbdProtocol.OPT_ABORT;
import static io.kagami.replicator.nbd.NbdProtocol.OPT_EXPORT_NAME;
import static io.kagami.replicator.nbd.NbdProtocol.OPT_GO;
import static io.kagami.replicator.nbd.NbdProtocol.OPT_INFO;
import static io.kagami.replicator.nbd.NbdProtocol.OPT_LIST;
import static io.kagami.replicator.nbd.NbdProtocol.REP_ACK;
import static io.kagami.replicator.nbd.NbdProtocol.REP_ERR_INVALID;
import static io.kagami.replicator.nbd.NbdProtocol.REP_ERR_UNKNOWN;
import static io.kagami.replicator.nbd.NbdProtocol.REP_ERR_UNSUP;
import static io.kagami.replicator.nbd.NbdProtocol.REP_INFO;
import static io.kagami.replicator.nbd.NbdProtocol.REP_SERVER;
import static io.kagami.replicator.nbd.NbdProtocol.TF_CAN_MULTI_CONN;
import static io.kagami.replicator.nbd.NbdProtocol.TF_HAS_FLAGS;
import static io.kagami.replicator.nbd.NbdProtocol.TF_READ_ONLY;
import static io.kagami.replicator.nbd.NbdProtocol.TF_SEND_FLUSH;
import static io.kagami.replicator.nbd.NbdProtocol.TF_SEND_FUA;
import static io.kagami.replicator.nbd.NbdProtocol.TF_SEND_TRIM;
import static io.kagami.replicator.nbd.NbdProtocol.TF_SEND_WRITE_ZEROES;
import static io.kagami.replicator.nbd.NbdProtocol.optionName;
import static io.kagami.replicator.nbd.NbdProtocol.printable;

import io.kagami.replicator.volume.BlockDevice;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.util.concurrent.Future;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The fixed-newstyle handshake of one connection: greets, haggles options, and on a successful
 * {@code NBD_OPT_GO} or {@code NBD_OPT_EXPORT_NAME} replaces itself with a {@link
 * NbdRequestDecoder} and a {@link NbdSession} for the chosen export (bytes the client already sent
 * pass on to the decoder).
 *
 * <p>Wire format (big-endian), server first:
 *
 * <pre>
 * greeting (server)       size  field
 *                         8     NBDMAGIC 0x4e42444d41474943 ("NBDMAGIC")
 *                         8     IHAVEOPT 0x49484156454f5054 ("IHAVEOPT")
 *                         2     handshake flags: bit 0 FIXED_NEWSTYLE, bit 1 NO_ZEROES
 * client flags (client)   4     bit 0 C_FIXED_NEWSTYLE, bit 1 C_NO_ZEROES; any other bit ends the connection
 * option (client)         8     IHAVEOPT
 *                         4     option (1 EXPORT_NAME, 2 ABORT, 3 LIST, 6 INFO, 7 GO; others get ERR_UNSUP)
 *                         4     data length (at most maxOptionLength, else the connection ends)
 *                         n     data
 * option reply (server)   8     0x0003e889045565a9
 *                         4     option being answered
 *                         4     reply type (1 ACK, 2 SERVER, 3 INFO; bit 31 set = error:
 *                               0x80000001 ERR_UNSUP, 0x80000003 ERR_INVALID, 0x80000006 ERR_UNKNOWN)
 *                         4     data length
 *                         n     data (errors: a message for humans)
 * INFO / GO data          4     export name length n (n + 6 &lt;= option length)
 *                         n     export name (UTF-8; empty = default export)
 *                         2     number k of information requests
 *                         2k    requested NBD_INFO types (0 EXPORT, 1 NAME, 2 DESCRIPTION, 3 BLOCK_SIZE)
 * REP_INFO data           2     info type, then
 *                               EXPORT:      8 size, 2 transmission flags           (always sent)
 *                               BLOCK_SIZE:  4 minimum, 4 preferred, 4 maximum      (always sent)
 *                               NAME:        the export's canonical name           (if requested)
 *                               DESCRIPTION: text for humans                        (if requested)
 * REP_SERVER data         4     name length n, then n bytes of name (one reply per export, then ACK)
 * EXPORT_NAME answer      8     export size
 *                         2     transmission flags
 *                         124   zeroes, unless the client set C_NO_ZEROES
 * </pre>
 *
 * Transmission flags: HAS_FLAGS, SEND_FLUSH and CAN_MULTI_CONN always (a device's flush covers
 * writes of every connection); SEND_FUA, SEND_TRIM and SEND_WRITE_ZEROES for writable devices;
 * READ_ONLY for read-only ones. Structured replies, metadata contexts, extended headers and TLS are
 * not offered (ERR_UNSUP), so clients fall back to simple replies.
 *
 * <p>A client that stalls is cut off after {@code handshakeTimeout}. Confined to the channel's
 * event loop.
 */
final class NbdHandshakeHandler extends ByteToMessageDecoder {
  private static final System.Logger LOG = System.getLogger(NbdHandshakeHandler.class.getName());

  static final int GREETING_BYTES = 18;
  private static final int OPTION_HEADER_BYTES = 16;

  private enum Phase {
    CLIENT_FLAGS,
    OPTIONS,
    TRANSMISSION,
    CLOSING
  }

  private final NbdServerConfig config;
  private final InFlightShare share;
  private final ClientLog clientLog;
  private final Exports exports;
  private Phase phase = Phase.CLIENT_FLAGS;
  private boolean noZeroes;
  private int options;
  private Future<?> timeout;

  NbdHandshakeHandler(
      NbdServerConfig config, Exports exports, ClientLog clientLog, InFlightShare share) {
    this.share = share;
    this.clientLog = clientLog;
    this.config = config;
    this.exports = exports;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    LOG.log(Level.DEBUG, "NBD client {0}: connected", ctx.channel().remoteAddress());
    ByteBuf greeting = ctx.alloc().buffer(GREETING_BYTES);
    greeting
        .writeLong(NBDMAGIC)
        .writeLong(IHAVEOPT)
        .writeShort(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
    ctx.writeAndFlush(greeting, ctx.voidPromise());
    long nanos = config.handshakeTimeout().toNanos();
    timeout =
        ctx.executor()
            .schedule(
                () ->
                    fail(
                        ctx,
                        "handshake not completed within "
                            + seconds(config.handshakeTimeout())
                            + " ("
                            + options
                            + " options received)"),
                nanos,
                TimeUnit.NANOSECONDS);
    super.channelActive(ctx);
  }

  private static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    switch (phase) {
      case CLIENT_FLAGS -> clientFlags(ctx, in);
      case OPTIONS -> option(ctx, in);
      case TRANSMISSION, CLOSING -> in.skipBytes(in.readableBytes());
    }
  }

  private void clientFlags(ChannelHandlerContext ctx, ByteBuf in) {
    if (in.readableBytes() < 4) {
      return;
    }
    int flags = in.readInt();
    if ((flags & ~KNOWN_CLIENT_FLAGS) != 0) {
      fail(
          ctx,
          String.format(
              "unsupported client flags 0x%08x (known: FIXED_NEWSTYLE, NO_ZEROES)", flags));
      return;
    }
    // A client without C_FIXED_NEWSTYLE only ever sends NBD_OPT_EXPORT_NAME, which is answered the
    // same either way, so both kinds of client are served alike.
    noZeroes = (flags & CLIENT_FLAG_NO_ZEROES) != 0;
    phase = Phase.OPTIONS;
  }

  private void option(ChannelHandlerContext ctx, ByteBuf in) {
    if (in.readableBytes() < OPTION_HEADER_BYTES) {
      return;
    }
    int start = in.readerIndex();
    long magic = in.getLong(start);
    if (magic != IHAVEOPT) {
      fail(ctx, String.format("bad option magic 0x%016x (expected IHAVEOPT)", magic));
      return;
    }
    int option = in.getInt(start + 8);
    long length = in.getUnsignedInt(start + 12);
    if (length > config.maxOptionLength()) {
      fail(
          ctx,
          optionName(option)
              + " carries "
              + length
              + " bytes of data, more than the limit of "
              + config.maxOptionLength());
      return;
    }
    if (in.readableBytes() < OPTION_HEADER_BYTES + length) {
      return;
    }
    in.skipBytes(OPTION_HEADER_BYTES);
    ByteBuf data = in.readSlice((int) length);
    options++;
    switch (option) {
      case OPT_EXPORT_NAME -> exportName(ctx, data);
      case OPT_ABORT -> abort(ctx);
      case OPT_LIST -> list(ctx, data);
      case OPT_INFO, OPT_GO -> infoOrGo(ctx, option, data);
      default -> reply(ctx, option, REP_ERR_UNSUP, null);
    }
    if (phase == Phase.OPTIONS) {
      ctx.flush();
    }
  }

  private void exportName(ChannelHandlerContext ctx, ByteBuf data) {
    String name = data.toString(StandardCharsets.UTF_8);
    Optional<BlockDevice> found = exports.find(name);
    if (found.isEmpty()) {
      // NBD_OPT_EXPORT_NAME has no way to report an error: the protocol says hang up.
      fail(
          ctx,
          "unknown export \""
              + printable(name)
              + "\" requested with NBD_OPT_EXPORT_NAME (exports: "
              + String.join(", ", exports.names())
              + ")");
      return;
    }
    BlockDevice device = found.get();
    ByteBuf answer = ctx.alloc().buffer(noZeroes ? 10 : 134);
    answer.writeLong(device.sizeBytes()).writeShort(transmissionFlags(device));
    if (!noZeroes) {
      answer.writeZero(124);
    }
    ctx.write(answer, ctx.voidPromise());
    enterTransmission(ctx, device);
  }

  private void abort(ChannelHandlerContext ctx) {
    phase = Phase.CLOSING;
    cancelTimeout();
    reply(ctx, OPT_ABORT, REP_ACK, null);
    ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
  }

  private void list(ChannelHandlerContext ctx, ByteBuf data) {
    if (data.isReadable()) {
      reply(ctx, OPT_LIST, REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
      return;
    }
    for (String name : exports.names()) {
      byte[] b = name.getBytes(StandardCharsets.UTF_8);
      ByteBuf r = replyHeader(ctx, OPT_LIST, REP_SERVER, 4 + b.length);
      r.writeInt(b.length).writeBytes(b);
      ctx.write(r, ctx.voidPromise());
    }
    reply(ctx, OPT_LIST, REP_ACK, null);
  }

  private void infoOrGo(ChannelHandlerContext ctx, int option, ByteBuf data) {
    String what = optionName(option);
    if (data.readableBytes() < 6) {
      reply(
          ctx,
          option,
          REP_ERR_INVALID,
          what + " data is " + data.readableBytes() + " bytes, shorter than the 6 it needs");
      return;
    }
    long nameLength = data.readUnsignedInt();
    if (nameLength > data.readableBytes() - 2) {
      reply(
          ctx,
          option,
          REP_ERR_INVALID,
          what + " export name length " + nameLength + " overruns the option data");
      return;
    }
    if (nameLength > MAX_STRING_BYTES) {
      reply(ctx, option, REP_ERR_INVALID, "export names are at most 4096 bytes");
      return;
    }
    String name = data.readCharSequence((int) nameLength, StandardCharsets.UTF_8).toString();
    int requests = data.readUnsignedShort();
    if (data.readableBytes() != 2 * requests) {
      reply(
          ctx,
          option,
          REP_ERR_INVALID,
          what
              + " lists "
              + requests
              + " information requests but carries "
              + data.readableBytes()
              + " bytes for them");
      return;
    }
    boolean wantName = false;
    boolean wantDescription = false;
    for (int i = 0; i < requests; i++) {
      int info = data.readUnsignedShort();
      wantName |= info == INFO_NAME;
      wantDescription |= info == INFO_DESCRIPTION;
    }
    Optional<BlockDevice> found = exports.find(name);
    if (found.isEmpty()) {
      String message =
          name.isEmpty()
              ? "this server has no default export; exports: " + String.join(", ", exports.names())
              : "no export named \""
                  + printable(name)
                  + "\"; exports: "
                  + String.join(", ", exports.names());
      reply(ctx, option, REP_ERR_UNKNOWN, message);
      return;
    }
    BlockDevice device = found.get();
    ByteBuf export = replyHeader(ctx, option, REP_INFO, 12);
    export
        .writeShort(INFO_EXPORT)
        .writeLong(device.sizeBytes())
        .writeShort(transmissionFlags(device));
    ctx.write(export, ctx.voidPromise());
    // Sent whether or not requested: the server enforces these sizes, and the spec allows it.
    ByteBuf sizes = replyHeader(ctx, option, REP_INFO, 14);
    sizes
        .writeShort(INFO_BLOCK_SIZE)
        .writeInt(config.minimumBlockSize())
        .writeInt(config.preferredBlockSize())
        .writeInt(config.maximumBlockSize());
    ctx.write(sizes, ctx.voidPromise());
    if (wantName) {
      infoString(ctx, option, INFO_NAME, device.name());
    }
    if (wantDescription) {
      infoString(
          ctx,
          option,
          INFO_DESCRIPTION,
          "Kagami volume " + device.name() + (device.readOnly() ? " (read-only)" : ""));
    }
    reply(ctx, option, REP_ACK, null);
    if (option == OPT_GO) {
      enterTransmission(ctx, device);
    }
  }

  private void infoString(ChannelHandlerContext ctx, int option, int info, String text) {
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    ByteBuf r = replyHeader(ctx, option, REP_INFO, 2 + b.length);
    r.writeShort(info).writeBytes(b);
    ctx.write(r, ctx.voidPromise());
  }

  static int transmissionFlags(BlockDevice device) {
    int flags = TF_HAS_FLAGS | TF_SEND_FLUSH | TF_CAN_MULTI_CONN;
    return device.readOnly()
        ? flags | TF_READ_ONLY
        : flags | TF_SEND_FUA | TF_SEND_TRIM | TF_SEND_WRITE_ZEROES;
  }

  private static ByteBuf replyHeader(ChannelHandlerContext ctx, int option, int type, int length) {
    ByteBuf r = ctx.alloc().buffer(20 + length);
    return r.writeLong(OPTION_REPLY_MAGIC).writeInt(option).writeInt(type).writeInt(length);
  }

  private static void reply(ChannelHandlerContext ctx, int option, int type, String message) {
    byte[] b = message == null ? new byte[0] : message.getBytes(StandardCharsets.UTF_8);
    ByteBuf r = replyHeader(ctx, option, type, b.length);
    ctx.write(r.writeBytes(b), ctx.voidPromise());
  }

  private void enterTransmission(ChannelHandlerContext ctx, BlockDevice device) {
    phase = Phase.TRANSMISSION;
    cancelTimeout();
    ctx.flush();
    LOG.log(
        Level.DEBUG,
        "NBD client {0}: serving export {1}",
        ctx.channel().remoteAddress(),
        device.name());
    ctx.channel().attr(NbdServer.EXPORT).set(device.name());
    NbdRequestDecoder decoder = new NbdRequestDecoder(config, device::writeHeadroom);
    NbdSession session = new NbdSession(config, device, decoder, clientLog, share);
    ChannelPipeline pipeline = ctx.pipeline();
    pipeline.addAfter(ctx.name(), NbdServer.REQUESTS_HANDLER, decoder);
    pipeline.addAfter(NbdServer.REQUESTS_HANDLER, NbdServer.SESSION_HANDLER, session);
    // Bytes already buffered here (pipelined requests) are handed to the decoder on removal.
    pipeline.remove(this);
  }

  /** Ends the connection for a protocol violation; {@link NbdConnectionGuard} logs and closes. */
  private void fail(ChannelHandlerContext ctx, String reason) {
    if (phase == Phase.CLOSING || phase == Phase.TRANSMISSION) {
      return;
    }
    phase = Phase.CLOSING;
    cancelTimeout();
    ctx.fireExceptionCaught(new NbdProtocolException(reason));
  }

  private void cancelTimeout() {
    if (timeout != null) {
      timeout.cancel(false);
      timeout = null;
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt == NbdServer.ShutdownEvent.INSTANCE) {
      if (phase != Phase.CLOSING) {
        phase = Phase.CLOSING;
        cancelTimeout();
        ctx.close();
      }
      return;
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    cancelTimeout();
    if (phase == Phase.CLIENT_FLAGS || phase == Phase.OPTIONS) {
      String where =
          phase == Phase.CLIENT_FLAGS
              ? "before sending its flags"
              : "after "
                  + options
                  + " options"
                  + (actualReadableBytes() > 0 ? ", in the middle of the next one" : "");
      phase = Phase.CLOSING;
      clientLog.log(
          LOG,
          Level.INFO,
          ctx.channel().remoteAddress(),
          "NBD client {0}: disconnected during the handshake ({1})",
          ctx.channel().remoteAddress(),
          where);
    }
    super.channelInactive(ctx);
  }

  @Override
  protected void handlerRemoved0(ChannelHandlerContext ctx) {
    cancelTimeout();
  }
}
