package io.kagami.replicator.nbd;

/**
 * Numbers of the NBD protocol (fixed newstyle handshake, simple replies) as Kagami speaks it. The
 * byte layouts are documented next to the code that reads and writes them: the handshake in {@link
 * NbdHandshakeHandler}, requests in {@link NbdRequestDecoder}, replies in {@link NbdSession}. All
 * fields are big-endian ("network byte order").
 *
 * <p>The protocol has no version field of its own: what a connection may use is negotiated with
 * handshake flags, options and transmission flags, which is why every unknown flag, option and
 * command has a defined refusal here rather than a version check.
 */
final class NbdProtocol {
  private NbdProtocol() {}

  // Handshake magic numbers.
  static final long NBDMAGIC = 0x4e42444d41474943L; // "NBDMAGIC"
  static final long IHAVEOPT = 0x49484156454f5054L; // "IHAVEOPT"
  static final long OPTION_REPLY_MAGIC = 0x0003e889045565a9L;

  // Handshake flags (server, 16 bits) and client flags (32 bits).
  static final int FLAG_FIXED_NEWSTYLE = 1;
  static final int FLAG_NO_ZEROES = 1 << 1;
  static final int CLIENT_FLAG_FIXED_NEWSTYLE = 1;
  static final int CLIENT_FLAG_NO_ZEROES = 1 << 1;
  static final int KNOWN_CLIENT_FLAGS = CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES;

  // Options.
  static final int OPT_EXPORT_NAME = 1;
  static final int OPT_ABORT = 2;
  static final int OPT_LIST = 3;
  static final int OPT_STARTTLS = 5;
  static final int OPT_INFO = 6;
  static final int OPT_GO = 7;
  static final int OPT_STRUCTURED_REPLY = 8;
  static final int OPT_LIST_META_CONTEXT = 9;
  static final int OPT_SET_META_CONTEXT = 10;
  static final int OPT_EXTENDED_HEADERS = 11;

  // Option reply types.
  static final int REP_ACK = 1;
  static final int REP_SERVER = 2;
  static final int REP_INFO = 3;
  static final int REP_ERR_UNSUP = 0x80000001;
  static final int REP_ERR_INVALID = 0x80000003;
  static final int REP_ERR_UNKNOWN = 0x80000006;

  // NBD_REP_INFO types.
  static final int INFO_EXPORT = 0;
  static final int INFO_NAME = 1;
  static final int INFO_DESCRIPTION = 2;
  static final int INFO_BLOCK_SIZE = 3;

  // Transmission flags (16 bits).
  static final int TF_HAS_FLAGS = 1;
  static final int TF_READ_ONLY = 1 << 1;
  static final int TF_SEND_FLUSH = 1 << 2;
  static final int TF_SEND_FUA = 1 << 3;
  static final int TF_SEND_TRIM = 1 << 5;
  static final int TF_SEND_WRITE_ZEROES = 1 << 6;
  static final int TF_CAN_MULTI_CONN = 1 << 8;

  // Transmission.
  static final int REQUEST_MAGIC = 0x25609513;
  static final int SIMPLE_REPLY_MAGIC = 0x67446698;
  static final int REQUEST_HEADER_BYTES = 28;
  static final int SIMPLE_REPLY_HEADER_BYTES = 16;

  static final int CMD_READ = 0;
  static final int CMD_WRITE = 1;
  static final int CMD_DISC = 2;
  static final int CMD_FLUSH = 3;
  static final int CMD_TRIM = 4;
  static final int CMD_CACHE = 5;
  static final int CMD_WRITE_ZEROES = 6;
  static final int CMD_BLOCK_STATUS = 7;

  static final int CMD_FLAG_FUA = 1;
  static final int CMD_FLAG_NO_HOLE = 1 << 1;

  // Error values of simple replies.
  static final int EPERM = 1;
  static final int EIO = 5;
  static final int EINVAL = 22;
  static final int ENOSPC = 28;
  static final int ESHUTDOWN = 108;

  /** Longest string (export name, message) the protocol allows. */
  static final int MAX_STRING_BYTES = 4096;

  static String optionName(int option) {
    return switch (option) {
      case OPT_EXPORT_NAME -> "NBD_OPT_EXPORT_NAME";
      case OPT_ABORT -> "NBD_OPT_ABORT";
      case OPT_LIST -> "NBD_OPT_LIST";
      case OPT_STARTTLS -> "NBD_OPT_STARTTLS";
      case OPT_INFO -> "NBD_OPT_INFO";
      case OPT_GO -> "NBD_OPT_GO";
      case OPT_STRUCTURED_REPLY -> "NBD_OPT_STRUCTURED_REPLY";
      case OPT_LIST_META_CONTEXT -> "NBD_OPT_LIST_META_CONTEXT";
      case OPT_SET_META_CONTEXT -> "NBD_OPT_SET_META_CONTEXT";
      case OPT_EXTENDED_HEADERS -> "NBD_OPT_EXTENDED_HEADERS";
      default -> "option " + Integer.toUnsignedString(option);
    };
  }

  static String commandName(int type) {
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

  /** A client-supplied string made safe for one log line: printable, bounded. */
  static String printable(String s) {
    int n = Math.min(s.length(), 64);
    StringBuilder b = new StringBuilder(n + 3);
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      b.append(Character.isISOControl(c) ? '?' : c);
    }
    if (n < s.length()) {
      b.append("...");
    }
    return b.toString();
  }
}
