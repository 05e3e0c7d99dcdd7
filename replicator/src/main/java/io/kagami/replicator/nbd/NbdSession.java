package io.kagami.replicator.nbd;

import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.DeviceError;
import io.kagami.replicator.volume.DeviceException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * One NBD client connection: the fixed-newstyle handshake, then transmission with pipelined
 * requests answered out of order (simple replies) as the device completes them.
 *
 * <p>Handshake (all big-endian):
 *
 * <pre>
 * server: u64 NBDMAGIC 0x4e42444d41474943 | u64 IHAVEOPT 0x49484156454f5054 | u16 flags (FIXED_NEWSTYLE|NO_ZEROES)
 * client: u32 flags
 * client option:  u64 IHAVEOPT | u32 option | u32 length | data
 * server reply:   u64 0x3e889045565a9 | u32 option | u32 reply type | u32 length | data
 * EXPORT_NAME:    server answers u64 size | u16 transmission flags | 124 zero bytes (unless NO_ZEROES)
 * </pre>
 *
 * Transmission:
 *
 * <pre>
 * request: u32 0x25609513 | u16 command flags | u16 type | u64 cookie | u64 offset | u32 length | WRITE payload
 * reply:   u32 0x67446698 | u32 error | u64 cookie | READ data on success
 * </pre>
 *
 * Bad input ends only this connection, with one log line naming the peer and the reason; errors
 * the protocol can express (range, read-only, device failures) are replied with their NBD errno
 * and the connection goes on.
 */
final class NbdSession extends ByteToMessageDecoder {
  private static final System.Logger LOG = System.getLogger(NbdSession.class.getName());

  static final long NBDMAGIC = 0x4e42444d41474943L;
  static final long IHAVEOPT = 0x49484156454f5054L;
  static final long REPLY_MAGIC = 0x3e889045565a9L;
  static final int REQUEST_MAGIC = 0x25609513;
  static final int SIMPLE_REPLY_MAGIC = 0x67446698;

  static final int FLAG_FIXED_NEWSTYLE = 1;
  static final int FLAG_NO_ZEROES = 2;

  static final int OPT_EXPORT_NAME = 1;
  static final int OPT_ABORT = 2;
  static final int OPT_LIST = 3;
  static final int OPT_INFO = 6;
  static final int OPT_GO = 7;

  static final int REP_ACK = 1;
  static final int REP_SERVER = 2;
  static final int REP_INFO = 3;
  static final int REP_ERR_UNSUP = 0x80000001;
  static final int REP_ERR_INVALID = 0x80000003;
  static final int REP_ERR_UNKNOWN = 0x80000006;

  static final int INFO_EXPORT = 0;
  static final int INFO_NAME = 1;
  static final int INFO_DESCRIPTION = 2;
  static final int INFO_BLOCK_SIZE = 3;

  static final int TF_HAS_FLAGS = 1;
  static final int TF_READ_ONLY = 2;
  static final int TF_SEND_FLUSH = 4;
  static final int TF_SEND_FUA = 8;
  static final int TF_SEND_TRIM = 32;
  static final int TF_SEND_WRITE_ZEROES = 64;
  static final int TF_CAN_MULTI_CONN = 256;

  static final int CMD_READ = 0;
  static final int CMD_WRITE = 1;
  static final int CMD_DISC = 2;
  static final int CMD_FLUSH = 3;
  static final int CMD_TRIM = 4;
  static final int CMD_WRITE_ZEROES = 6;
  static final int CMD_FLAG_FUA = 1;
  static final int CMD_FLAG_NO_HOLE = 2;

  static final int EPERM = 1;
  static final int EIO = 5;
  static final int EINVAL = 22;
  static final int ENOSPC = 28;
  static final int EOVERFLOW = 75;
  static final int ENOTSUP = 95;
  static final int ESHUTDOWN = 108;

  private enum Phase {
    CLIENT_FLAGS,
    OPTIONS,
    TRANSMISSION,
    DISCARD_PAYLOAD,
    CLOSING
  }

  private final NbdServerConfig config;
  private final Exports exports;
  private Phase phase = Phase.CLIENT_FLAGS;
  private boolean noZeroes;
  private BlockDevice device;
  private int inFlight;
  private long discardLeft;
  private long discardCookie;
  private boolean disconnectRequested;

  NbdSession(NbdServerConfig config, Exports exports) {
    this.config = config;
    this.exports = exports;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    ByteBuf hello = ctx.alloc().buffer(18);
    hello.writeLong(NBDMAGIC).writeLong(IHAVEOPT).writeShort(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES);
    ctx.writeAndFlush(hello);
    super.channelActive(ctx);
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    while (ctx.channel().isActive()) {
      boolean progressed =
          switch (phase) {
            case CLIENT_FLAGS -> clientFlags(ctx, in);
            case OPTIONS -> option(ctx, in);
            case TRANSMISSION -> request(ctx, in);
            case DISCARD_PAYLOAD -> discard(ctx, in);
            case CLOSING -> {
              in.skipBytes(in.readableBytes());
              yield false;
            }
          };
      if (!progressed) {
        return;
      }
    }
  }

  private boolean clientFlags(ChannelHandlerContext ctx, ByteBuf in) {
    if (in.readableBytes() < 4) {
      return false;
    }
    int flags = in.readInt();
    if ((flags & FLAG_FIXED_NEWSTYLE) == 0 || (flags & ~(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)) != 0) {
      return abort(ctx, String.format("unsupported client flags 0x%x (only fixed newstyle is served)", flags));
    }
    noZeroes = (flags & FLAG_NO_ZEROES) != 0;
    phase = Phase.OPTIONS;
    return true;
  }

  private boolean option(ChannelHandlerContext ctx, ByteBuf in) {
    if (in.readableBytes() < 16) {
      return false;
    }
    int start = in.readerIndex();
    long magic = in.getLong(start);
    if (magic != IHAVEOPT) {
      return abort(ctx, String.format("bad option magic 0x%016x", magic));
    }
    int option = in.getInt(start + 8);
    long length = Integer.toUnsignedLong(in.getInt(start + 12));
    if (length > config.maxOptionBytes()) {
      return abort(ctx, "option " + option + " of " + length + " bytes exceeds the limit of " + config.maxOptionBytes());
    }
    if (in.readableBytes() < 16 + length) {
      return false;
    }
    in.skipBytes(16);
    ByteBuf data = in.readSlice((int) length);
    switch (option) {
      case OPT_EXPORT_NAME -> {
        String name = data.toString(StandardCharsets.UTF_8);
        var found = exports.find(name);
        if (found.isEmpty()) {
          return abort(ctx, "unknown export \"" + name + "\" requested with EXPORT_NAME");
        }
        device = found.get();
        ByteBuf r = ctx.alloc().buffer(10 + (noZeroes ? 0 : 124));
        r.writeLong(device.sizeBytes()).writeShort(transmissionFlags(device));
        if (!noZeroes) {
          r.writeZero(124);
        }
        ctx.writeAndFlush(r);
        phase = Phase.TRANSMISSION;
      }
      case OPT_ABORT -> {
        reply(ctx, option, REP_ACK, null);
        phase = Phase.CLOSING;
        ctx.flush();
        ctx.close();
        return false;
      }
      case OPT_LIST -> {
        if (length != 0) {
          reply(ctx, option, REP_ERR_INVALID, null);
        } else {
          for (String name : exports.names()) {
            byte[] b = name.getBytes(StandardCharsets.UTF_8);
            ByteBuf d = ctx.alloc().buffer(4 + b.length);
            d.writeInt(b.length).writeBytes(b);
            reply(ctx, option, REP_SERVER, d);
          }
          reply(ctx, option, REP_ACK, null);
        }
      }
      case OPT_INFO, OPT_GO -> infoOrGo(ctx, option, data);
      default -> reply(ctx, option, REP_ERR_UNSUP, null);
    }
    ctx.flush();
    return true;
  }

  private void infoOrGo(ChannelHandlerContext ctx, int option, ByteBuf data) {
    if (data.readableBytes() < 4) {
      reply(ctx, option, REP_ERR_INVALID, null);
      return;
    }
    int nameLen = data.readInt();
    if (nameLen < 0 || data.readableBytes() < nameLen + 2L) {
      reply(ctx, option, REP_ERR_INVALID, null);
      return;
    }
    String name = data.readCharSequence(nameLen, StandardCharsets.UTF_8).toString();
    int n = data.readUnsignedShort();
    if (data.readableBytes() != n * 2) {
      reply(ctx, option, REP_ERR_INVALID, null);
      return;
    }
    boolean wantName = false;
    boolean wantDescription = false;
    for (int i = 0; i < n; i++) {
      int t = data.readUnsignedShort();
      wantName |= t == INFO_NAME;
      wantDescription |= t == INFO_DESCRIPTION;
    }
    var found = exports.find(name);
    if (found.isEmpty()) {
      byte[] msg = ("unknown export \"" + name + "\"; available: " + String.join(", ", exports.names())).getBytes(StandardCharsets.UTF_8);
      reply(ctx, option, REP_ERR_UNKNOWN, ctx.alloc().buffer(msg.length).writeBytes(msg));
      return;
    }
    BlockDevice d = found.get();
    reply(ctx, option, REP_INFO, ctx.alloc().buffer(12).writeShort(INFO_EXPORT).writeLong(d.sizeBytes()).writeShort(transmissionFlags(d)));
    reply(ctx, option, REP_INFO, ctx.alloc().buffer(14).writeShort(INFO_BLOCK_SIZE).writeInt(1).writeInt(config.preferredBlock()).writeInt(config.maxPayload()));
    if (wantName) {
      byte[] b = d.name().getBytes(StandardCharsets.UTF_8);
      reply(ctx, option, REP_INFO, ctx.alloc().buffer(2 + b.length).writeShort(INFO_NAME).writeBytes(b));
    }
    if (wantDescription) {
      byte[] b = ("Kagami " + (d.readOnly() ? "standby replica (read-only)" : "replicated volume")).getBytes(StandardCharsets.UTF_8);
      reply(ctx, option, REP_INFO, ctx.alloc().buffer(2 + b.length).writeShort(INFO_DESCRIPTION).writeBytes(b));
    }
    reply(ctx, option, REP_ACK, null);
    if (option == OPT_GO) {
      device = d;
      phase = Phase.TRANSMISSION;
    }
  }

  private static int transmissionFlags(BlockDevice d) {
    int f = TF_HAS_FLAGS | TF_SEND_FLUSH | TF_SEND_FUA | TF_SEND_TRIM | TF_SEND_WRITE_ZEROES | TF_CAN_MULTI_CONN;
    return d.readOnly() ? f | TF_READ_ONLY : f;
  }

  private void reply(ChannelHandlerContext ctx, int option, int type, ByteBuf data) {
    int len = data == null ? 0 : data.readableBytes();
    ByteBuf h = ctx.alloc().buffer(20);
    h.writeLong(REPLY_MAGIC).writeInt(option).writeInt(type).writeInt(len);
    ctx.write(h);
    if (data != null) {
      ctx.write(data);
    }
  }

  private boolean request(ChannelHandlerContext ctx, ByteBuf in) {
    if (disconnectRequested || in.readableBytes() < 28) {
      return false;
    }
    int start = in.readerIndex();
    int magic = in.getInt(start);
    if (magic != REQUEST_MAGIC) {
      return abort(ctx, String.format("bad request magic 0x%08x", magic));
    }
    int flags = in.getUnsignedShort(start + 4);
    int type = in.getUnsignedShort(start + 6);
    long cookie = in.getLong(start + 8);
    long offset = in.getLong(start + 16);
    long length = Integer.toUnsignedLong(in.getInt(start + 24));
    if (type == CMD_WRITE) {
      if (length > config.maxPayload()) {
        // The payload cannot be served; skip it so the stream stays in sync, then refuse.
        in.skipBytes(28);
        LOG.log(Level.WARNING, "NBD client {0}: WRITE of {1} bytes exceeds the maximum of {2}; refused", ctx.channel().remoteAddress(), length, config.maxPayload());
        discardLeft = length;
        discardCookie = cookie;
        phase = Phase.DISCARD_PAYLOAD;
        return true;
      }
      if (in.readableBytes() < 28 + length) {
        return false;
      }
    }
    in.skipBytes(28);
    boolean fua = (flags & CMD_FLAG_FUA) != 0;
    if ((flags & ~(CMD_FLAG_FUA | CMD_FLAG_NO_HOLE)) != 0) {
      if (type == CMD_WRITE) {
        in.skipBytes((int) length);
      }
      simpleReply(ctx, cookie, EINVAL, null);
      return true;
    }
    switch (type) {
      case CMD_READ -> {
        if (length > config.maxPayload()) {
          simpleReply(ctx, cookie, EINVAL, null);
        } else if (!inRange(offset, length)) {
          simpleReply(ctx, cookie, EINVAL, null);
        } else {
          serve(ctx, cookie, device.read(offset, (int) length, ctx.alloc()));
        }
      }
      case CMD_WRITE -> {
        ByteBuf payload = in.readRetainedSlice((int) length);
        if (device.readOnly()) {
          payload.release();
          simpleReply(ctx, cookie, EPERM, null);
        } else if (!inRange(offset, length)) {
          payload.release();
          simpleReply(ctx, cookie, ENOSPC, null);
        } else {
          serve(ctx, cookie, device.write(offset, payload, fua));
        }
      }
      case CMD_FLUSH -> serve(ctx, cookie, device.flush());
      case CMD_TRIM, CMD_WRITE_ZEROES -> {
        if (device.readOnly()) {
          simpleReply(ctx, cookie, EPERM, null);
        } else if (!inRange(offset, length)) {
          simpleReply(ctx, cookie, ENOSPC, null);
        } else if (type == CMD_TRIM) {
          serve(ctx, cookie, device.trim(offset, length, fua));
        } else {
          serve(ctx, cookie, device.writeZeroes(offset, length, fua, (flags & CMD_FLAG_NO_HOLE) == 0));
        }
      }
      case CMD_DISC -> {
        disconnectRequested = true;
        ctx.channel().config().setAutoRead(false);
        closeIfDrained(ctx);
        return false;
      }
      default -> simpleReply(ctx, cookie, EINVAL, null);
    }
    return true;
  }

  private boolean discard(ChannelHandlerContext ctx, ByteBuf in) {
    int n = (int) Math.min(discardLeft, in.readableBytes());
    in.skipBytes(n);
    discardLeft -= n;
    if (discardLeft > 0) {
      return false;
    }
    simpleReply(ctx, discardCookie, EOVERFLOW, null);
    phase = Phase.TRANSMISSION;
    return true;
  }

  private boolean inRange(long offset, long length) {
    return offset >= 0 && offset <= device.sizeBytes() && length <= device.sizeBytes() - offset;
  }

  private <T> void serve(ChannelHandlerContext ctx, long cookie, CompletableFuture<T> result) {
    inFlight++;
    if (inFlight >= config.maxInFlight()) {
      ctx.channel().config().setAutoRead(false);
    }
    result.whenComplete(
        (value, err) -> {
          if (ctx.executor().inEventLoop()) {
            complete(ctx, cookie, value, err);
          } else {
            ctx.executor().execute(() -> complete(ctx, cookie, value, err));
          }
        });
  }

  private void complete(ChannelHandlerContext ctx, long cookie, Object value, Throwable err) {
    inFlight--;
    if (err != null) {
      if (value instanceof ByteBuf b) {
        b.release();
      }
      simpleReply(ctx, cookie, errno(ctx, err), null);
    } else {
      simpleReply(ctx, cookie, 0, value instanceof ByteBuf b ? b : null);
    }
    if (disconnectRequested) {
      closeIfDrained(ctx);
    } else if (inFlight < Math.max(1, config.maxInFlight() / 2) && !ctx.channel().config().isAutoRead() && phase != Phase.CLOSING) {
      ctx.channel().config().setAutoRead(true);
      ctx.read();
    }
  }

  private void closeIfDrained(ChannelHandlerContext ctx) {
    if (inFlight == 0) {
      phase = Phase.CLOSING;
      ctx.flush();
      ctx.close();
    }
  }

  private int errno(ChannelHandlerContext ctx, Throwable err) {
    Throwable c = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
    if (c instanceof DeviceException d) {
      if (d.error() == DeviceError.EIO || d.error() == DeviceError.ENOSPC) {
        LOG.log(Level.WARNING, "NBD client {0}: {1}", ctx.channel().remoteAddress(), d.getMessage());
      }
      return switch (d.error()) {
        case EPERM -> EPERM;
        case EIO -> EIO;
        case ENOSPC -> ENOSPC;
        case EINVAL -> EINVAL;
        case ESHUTDOWN -> ESHUTDOWN;
      };
    }
    LOG.log(Level.ERROR, "NBD client " + ctx.channel().remoteAddress() + ": request failed unexpectedly", c);
    return EIO;
  }

  private void simpleReply(ChannelHandlerContext ctx, long cookie, int error, ByteBuf data) {
    if (!ctx.channel().isActive()) {
      if (data != null) {
        data.release();
      }
      return;
    }
    ByteBuf h = ctx.alloc().buffer(16);
    h.writeInt(SIMPLE_REPLY_MAGIC).writeInt(error).writeLong(cookie);
    if (data == null) {
      ctx.writeAndFlush(h);
    } else {
      ctx.write(h);
      ctx.writeAndFlush(data);
    }
  }

  private boolean abort(ChannelHandlerContext ctx, String reason) {
    LOG.log(Level.WARNING, "NBD client {0}: {1}; closing the connection", ctx.channel().remoteAddress(), reason);
    phase = Phase.CLOSING;
    ctx.close();
    return false;
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (phase == Phase.CLIENT_FLAGS || phase == Phase.OPTIONS) {
      LOG.log(Level.INFO, "NBD client {0}: disconnected during the handshake", ctx.channel().remoteAddress());
    } else if (phase == Phase.TRANSMISSION && inFlight > 0) {
      LOG.log(Level.INFO, "NBD client {0}: disconnected with {1} requests in flight", ctx.channel().remoteAddress(), inFlight);
    }
    super.channelInactive(ctx);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    String msg = cause.getMessage() == null ? cause.toString() : cause.getMessage();
    if (!(cause instanceof java.io.IOException)) {
      LOG.log(Level.WARNING, "NBD client {0}: {1}; closing the connection", ctx.channel().remoteAddress(), msg);
    }
    phase = Phase.CLOSING;
    ctx.close();
  }
}
