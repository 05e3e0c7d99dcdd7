package io.kagami.testkit.nbd;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * NBD protocol numbers used by {@link NbdTestClient} and by tests that build requests by hand,
 * named as in the NBD specification ({@code doc/proto.md} of NetworkBlockDevice/nbd) without the
 * {@code NBD_} prefix. All multi-byte fields on the wire are big-endian.
 *
 * <pre>
 * request  (28 bytes + payload): u32 0x25609513 | u16 command flags | u16 type | u64 handle | u64 offset | u32 length | [payload]
 * simple reply (16 bytes + data): u32 0x67446698 | u32 error | u64 handle | [data, READ only, on success]
 * option   (16 bytes + data):    u64 IHAVEOPT | u32 option | u32 length | data
 * option reply (20 bytes + data): u64 0x3e889045565a9 | u32 option | u32 reply type | u32 length | data
 * </pre>
 */
public final class NbdProtocol {
  public static final long NBDMAGIC = 0x4e42444d41474943L;
  public static final long IHAVEOPT = 0x49484156454f5054L;
  public static final long OLDSTYLE_MAGIC = 0x0000420281861253L;
  public static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;
  public static final int REQUEST_MAGIC = 0x25609513;
  public static final int SIMPLE_REPLY_MAGIC = 0x67446698;
  public static final int STRUCTURED_REPLY_MAGIC = 0x668e33ef;

  // Handshake flags (server) and client flags.
  public static final int FLAG_FIXED_NEWSTYLE = 1;
  public static final int FLAG_NO_ZEROES = 1 << 1;
  public static final int FLAG_C_FIXED_NEWSTYLE = 1;
  public static final int FLAG_C_NO_ZEROES = 1 << 1;

  // Options and option replies.
  public static final int OPT_EXPORT_NAME = 1;
  public static final int OPT_ABORT = 2;
  public static final int OPT_LIST = 3;
  public static final int OPT_INFO = 6;
  public static final int OPT_GO = 7;
  public static final int OPT_STRUCTURED_REPLY = 8;
  public static final int REP_ACK = 1;
  public static final int REP_SERVER = 2;
  public static final int REP_INFO = 3;
  public static final int REP_FLAG_ERROR = 1 << 31;
  public static final int REP_ERR_UNSUP = REP_FLAG_ERROR | 1;
  public static final int REP_ERR_POLICY = REP_FLAG_ERROR | 2;
  public static final int REP_ERR_INVALID = REP_FLAG_ERROR | 3;
  public static final int REP_ERR_PLATFORM = REP_FLAG_ERROR | 4;
  public static final int REP_ERR_TLS_REQD = REP_FLAG_ERROR | 5;
  public static final int REP_ERR_UNKNOWN = REP_FLAG_ERROR | 6;
  public static final int REP_ERR_SHUTDOWN = REP_FLAG_ERROR | 7;
  public static final int REP_ERR_BLOCK_SIZE_REQD = REP_FLAG_ERROR | 8;
  public static final int REP_ERR_TOO_BIG = REP_FLAG_ERROR | 9;
  public static final int INFO_EXPORT = 0;
  public static final int INFO_NAME = 1;
  public static final int INFO_DESCRIPTION = 2;
  public static final int INFO_BLOCK_SIZE = 3;

  // Transmission flags (per export).
  public static final int FLAG_HAS_FLAGS = 1;
  public static final int FLAG_READ_ONLY = 1 << 1;
  public static final int FLAG_SEND_FLUSH = 1 << 2;
  public static final int FLAG_SEND_FUA = 1 << 3;
  public static final int FLAG_ROTATIONAL = 1 << 4;
  public static final int FLAG_SEND_TRIM = 1 << 5;
  public static final int FLAG_SEND_WRITE_ZEROES = 1 << 6;
  public static final int FLAG_SEND_DF = 1 << 7;
  public static final int FLAG_CAN_MULTI_CONN = 1 << 8;
  public static final int FLAG_SEND_RESIZE = 1 << 9;
  public static final int FLAG_SEND_CACHE = 1 << 10;
  public static final int FLAG_SEND_FAST_ZERO = 1 << 11;

  // Commands and command flags.
  public static final int CMD_READ = 0;
  public static final int CMD_WRITE = 1;
  public static final int CMD_DISC = 2;
  public static final int CMD_FLUSH = 3;
  public static final int CMD_TRIM = 4;
  public static final int CMD_CACHE = 5;
  public static final int CMD_WRITE_ZEROES = 6;
  public static final int CMD_BLOCK_STATUS = 7;
  public static final int CMD_FLAG_FUA = 1;
  public static final int CMD_FLAG_NO_HOLE = 1 << 1;
  public static final int CMD_FLAG_DF = 1 << 2;
  public static final int CMD_FLAG_FAST_ZERO = 1 << 4;

  // Error values of simple replies.
  public static final int EPERM = 1;
  public static final int EIO = 5;
  public static final int ENOMEM = 12;
  public static final int EINVAL = 22;
  public static final int ENOSPC = 28;
  public static final int EOVERFLOW = 75;
  public static final int ENOTSUP = 95;
  public static final int ESHUTDOWN = 108;

  /** Size of a request header; a WRITE's payload follows it. */
  public static final int REQUEST_HEADER_BYTES = 28;

  private NbdProtocol() {}

  /** A request header as the client sends it, for tests that send malformed or unusual requests. */
  public static byte[] requestHeader(
      int commandFlags, int type, long handle, long offset, int length) {
    return ByteBuffer.allocate(REQUEST_HEADER_BYTES)
        .putInt(REQUEST_MAGIC)
        .putShort((short) commandFlags)
        .putShort((short) type)
        .putLong(handle)
        .putLong(offset)
        .putInt(length)
        .array();
  }

  /** A handshake option as the client sends it: IHAVEOPT, option, length of {@code data}, data. */
  public static byte[] option(int option, byte[] data) {
    return ByteBuffer.allocate(16 + data.length)
        .putLong(IHAVEOPT)
        .putInt(option)
        .putInt(data.length)
        .put(data)
        .array();
  }

  /**
   * The data of an NBD_OPT_GO or NBD_OPT_INFO option: name length, name, info request count and
   * types.
   */
  public static byte[] goData(String exportName, int... infoRequests) {
    byte[] name = exportName.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b =
        ByteBuffer.allocate(4 + name.length + 2 + 2 * infoRequests.length)
            .putInt(name.length)
            .put(name)
            .putShort((short) infoRequests.length);
    for (int info : infoRequests) {
      b.putShort((short) info);
    }
    return b.array();
  }

  /** {@code "EINVAL"} for 22; {@code "error 7"} for values the protocol does not define. */
  public static String errorName(int error) {
    return switch (error) {
      case 0 -> "OK";
      case EPERM -> "EPERM";
      case EIO -> "EIO";
      case ENOMEM -> "ENOMEM";
      case EINVAL -> "EINVAL";
      case ENOSPC -> "ENOSPC";
      case EOVERFLOW -> "EOVERFLOW";
      case ENOTSUP -> "ENOTSUP";
      case ESHUTDOWN -> "ESHUTDOWN";
      default -> "error " + Integer.toUnsignedString(error);
    };
  }

  /** {@code "WRITE"} for 1; {@code "command 42"} for unknown types. */
  public static String commandName(int type) {
    return switch (type) {
      case CMD_READ -> "READ";
      case CMD_WRITE -> "WRITE";
      case CMD_DISC -> "DISC";
      case CMD_FLUSH -> "FLUSH";
      case CMD_TRIM -> "TRIM";
      case CMD_CACHE -> "CACHE";
      case CMD_WRITE_ZEROES -> "WRITE_ZEROES";
      case CMD_BLOCK_STATUS -> "BLOCK_STATUS";
      default -> "command " + type;
    };
  }

  /** {@code "NBD_REP_ERR_UNKNOWN"} for the option reply type given. */
  public static String replyTypeName(int type) {
    return switch (type) {
      case REP_ACK -> "NBD_REP_ACK";
      case REP_SERVER -> "NBD_REP_SERVER";
      case REP_INFO -> "NBD_REP_INFO";
      case REP_ERR_UNSUP -> "NBD_REP_ERR_UNSUP";
      case REP_ERR_POLICY -> "NBD_REP_ERR_POLICY";
      case REP_ERR_INVALID -> "NBD_REP_ERR_INVALID";
      case REP_ERR_PLATFORM -> "NBD_REP_ERR_PLATFORM";
      case REP_ERR_TLS_REQD -> "NBD_REP_ERR_TLS_REQD";
      case REP_ERR_UNKNOWN -> "NBD_REP_ERR_UNKNOWN";
      case REP_ERR_SHUTDOWN -> "NBD_REP_ERR_SHUTDOWN";
      case REP_ERR_BLOCK_SIZE_REQD -> "NBD_REP_ERR_BLOCK_SIZE_REQD";
      case REP_ERR_TOO_BIG -> "NBD_REP_ERR_TOO_BIG";
      default -> String.format("reply type 0x%08x", type);
    };
  }
}
