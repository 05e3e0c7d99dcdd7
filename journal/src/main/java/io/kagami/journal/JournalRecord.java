package io.kagami.journal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * One change to a volume, as stored in the journal and shipped over the WAN unchanged.
 *
 * <p>Encoded layout (big-endian), version 1:
 *
 * <pre>
 * offset  size  field
 * 0       1     version (1)
 * 1       1     kind    (1 = WRITE, 2 = TRIM, 3 = WRITE_ZEROES, 4 = VERIFY, 5 = VERIFY_SUM)
 * 2       1     codec   (0 = none, 1 = LZ4 block)
 * 3       1     reserved (0)
 * 4       8     volume byte offset
 * 12      4     logical length in bytes (uncompressed); 0 for VERIFY and VERIFY_SUM
 * 16      n     payload: WRITE: the data, LZ4-compressed when codec = 1;
 *               VERIFY and VERIFY_SUM: see {@link VerifyPoint}; TRIM, WRITE_ZEROES: none
 * </pre>
 *
 * <p>VERIFY and VERIFY_SUM change nothing on the volume (their length is 0, so every reader that
 * looks at where a record lands sees nothing): they are verification points that travel in the
 * history's order (see {@link VerifyPoint}). Kinds 4 and 5 were added without a version step:
 * journals written before them read as before; a binary that predates them refuses such a record as
 * an unknown kind instead of misreading it.
 *
 * <p>The encoded form is what RocksDB stores under the entry's sequence number and what the WAN
 * transport carries, so a write is compressed once when it enters the journal and never re-encoded.
 */
public record JournalRecord(Kind kind, long offset, int length, Codec codec, byte[] payload) {

  public static final int VERSION = 1;
  public static final int HEADER_BYTES = 16;

  public enum Kind {
    WRITE(1),
    TRIM(2),
    WRITE_ZEROES(3),
    /** A verification point: the primary checksums a region here (see {@link VerifyPoint}). */
    VERIFY(4),
    /** The primary's checksum of an earlier VERIFY point's region. */
    VERIFY_SUM(5);

    final int code;

    Kind(int code) {
      this.code = code;
    }

    /** True for the kinds that change the volume's content. */
    public boolean changesData() {
      return this == WRITE || this == TRIM || this == WRITE_ZEROES;
    }

    /** True for the verification kinds, which carry a {@link VerifyPoint} payload. */
    public boolean verification() {
      return this == VERIFY || this == VERIFY_SUM;
    }

    static Kind of(int code) {
      for (Kind k : values()) {
        if (k.code == code) {
          return k;
        }
      }
      throw new MalformedRecordException("unknown record kind " + code);
    }
  }

  public enum Codec {
    NONE(0),
    LZ4(1);

    final int code;

    Codec(int code) {
      this.code = code;
    }

    static Codec of(int code) {
      for (Codec c : values()) {
        if (c.code == code) {
          return c;
        }
      }
      throw new MalformedRecordException("unknown record codec " + code);
    }
  }

  public JournalRecord {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(codec, "codec");
    Objects.requireNonNull(payload, "payload");
    if (offset < 0 || length < 0) {
      throw new IllegalArgumentException("negative offset or length");
    }
    if (kind != Kind.WRITE && !kind.verification() && payload.length != 0) {
      throw new IllegalArgumentException(kind + " carries no payload");
    }
    if (kind.verification() && length != 0) {
      throw new IllegalArgumentException(kind + " has length 0 (it changes nothing)");
    }
  }

  public static JournalRecord trim(long offset, int length) {
    return new JournalRecord(Kind.TRIM, offset, length, Codec.NONE, new byte[0]);
  }

  public static JournalRecord writeZeroes(long offset, int length) {
    return new JournalRecord(Kind.WRITE_ZEROES, offset, length, Codec.NONE, new byte[0]);
  }

  /** Encodes this record into the journal/WAN byte layout. */
  public byte[] encode() {
    byte[] out = new byte[HEADER_BYTES + payload.length];
    ByteBuffer b = ByteBuffer.wrap(out).order(ByteOrder.BIG_ENDIAN);
    b.put((byte) VERSION).put((byte) kind.code).put((byte) codec.code).put((byte) 0);
    b.putLong(offset).putInt(length).put(payload);
    return out;
  }

  /**
   * Whether the encoded record {@code encoded} changes the volume's content (a host's WRITE, TRIM
   * or WRITE_ZEROES), as opposed to a verification point: what "the newest write" counts (lag, a
   * recovery's point and its time) skips the points, which change nothing.
   */
  public static boolean changesData(byte[] encoded) {
    return header(encoded).kind().changesData();
  }

  /** A record's header fields. */
  public record Header(Kind kind, Codec codec, long offset, int length) {}

  /**
   * Decodes the header at the start of {@code encoded} (a whole record, or just its first {@link
   * #HEADER_BYTES}), with the same checks as {@link #decode}.
   */
  public static Header header(byte[] encoded) {
    if (encoded.length < HEADER_BYTES) {
      throw new MalformedRecordException(
          "record of " + encoded.length + " bytes is shorter than its header");
    }
    ByteBuffer b = ByteBuffer.wrap(encoded).order(ByteOrder.BIG_ENDIAN);
    int version = b.get() & 0xff;
    if (version != VERSION) {
      throw new MalformedRecordException(
          "record version " + version + " is not supported (expected " + VERSION + ")");
    }
    Kind kind = Kind.of(b.get() & 0xff);
    Codec codec = Codec.of(b.get() & 0xff);
    b.get();
    long offset = b.getLong();
    int length = b.getInt();
    if (offset < 0 || length < 0) {
      throw new MalformedRecordException("record has negative offset or length");
    }
    return new Header(kind, codec, offset, length);
  }

  /**
   * Decodes a record; rejects anything that is not a well-formed version-1 record with a {@link
   * MalformedRecordException}, never an index error.
   */
  public static JournalRecord decode(byte[] encoded) {
    Header h = header(encoded);
    Kind kind = h.kind();
    Codec codec = h.codec();
    long offset = h.offset();
    int length = h.length();
    byte[] payload = java.util.Arrays.copyOfRange(encoded, HEADER_BYTES, encoded.length);
    if (kind != Kind.WRITE && !kind.verification() && payload.length != 0) {
      throw new MalformedRecordException(kind + " record carries a payload");
    }
    if (kind.verification() && (length != 0 || codec != Codec.NONE)) {
      throw new MalformedRecordException(kind + " record with length " + length + " or a codec");
    }
    if (kind == Kind.WRITE && codec == Codec.NONE && payload.length != length) {
      throw new MalformedRecordException(
          "uncompressed WRITE payload is " + payload.length + " bytes, header says " + length);
    }
    return new JournalRecord(kind, offset, length, codec, payload);
  }

  /** The record's end offset on the volume (exclusive). */
  public long end() {
    return offset + length;
  }
}
