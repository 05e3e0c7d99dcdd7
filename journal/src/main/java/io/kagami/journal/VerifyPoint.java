package io.kagami.journal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The payloads of the two verification record kinds. A verification point is a place in a volume's
 * history: the primary appends {@link Mark} (kind VERIFY) at seq {@code v}; its local volume file,
 * written in journal order, holds exactly the state after seq {@code v - 1} when that record's turn
 * comes, so the region's checksum taken there describes that state. The checksum follows later in
 * the same history as a {@link Sum} (kind VERIFY_SUM, at a seq above {@code v}). A standby's
 * applier, applying strictly in order, checksums its replica when it applies {@code v} and compares
 * when it applies the sum: writes racing the check are ordered by the history, never mistaken for a
 * difference.
 *
 * <p>Payload layouts (big-endian), after the record header whose offset is the region's start and
 * whose length is 0:
 *
 * <pre>
 * VERIFY      i64 pass | u32 regionLength | u8 flags (bit 0: the last region of its pass)
 * VERIFY_SUM  i64 verifySeq | i64 pass | u32 regionLength | i64 checksum
 * </pre>
 */
public final class VerifyPoint {
  static final int MARK_BYTES = 8 + 4 + 1;
  static final int SUM_BYTES = 8 + 8 + 4 + 8;
  private static final int FLAG_LAST = 1;

  private VerifyPoint() {}

  /** A VERIFY record: checksum {@code [offset, offset + length)} here, as part of {@code pass}. */
  public record Mark(long offset, int length, long pass, boolean lastOfPass) {
    public Mark {
      if (offset < 0 || length <= 0) {
        throw new IllegalArgumentException("verification region " + offset + "+" + length);
      }
    }

    public JournalRecord record() {
      ByteBuffer b = ByteBuffer.allocate(MARK_BYTES).order(ByteOrder.BIG_ENDIAN);
      b.putLong(pass).putInt(length).put((byte) (lastOfPass ? FLAG_LAST : 0));
      return new JournalRecord(
          JournalRecord.Kind.VERIFY, offset, 0, JournalRecord.Codec.NONE, b.array());
    }
  }

  /** A VERIFY_SUM record: the primary's checksum of the region at point {@code verifySeq}. */
  public record Sum(long offset, int length, long verifySeq, long pass, long checksum) {
    public JournalRecord record() {
      ByteBuffer b = ByteBuffer.allocate(SUM_BYTES).order(ByteOrder.BIG_ENDIAN);
      b.putLong(verifySeq).putLong(pass).putInt(length).putLong(checksum);
      return new JournalRecord(
          JournalRecord.Kind.VERIFY_SUM, offset, 0, JournalRecord.Codec.NONE, b.array());
    }
  }

  /** The VERIFY record {@code r} as a mark; malformed payloads are refused. */
  public static Mark mark(JournalRecord r) {
    if (r.kind() != JournalRecord.Kind.VERIFY || r.payload().length != MARK_BYTES) {
      throw new MalformedRecordException("not a well-formed VERIFY record: " + r.kind());
    }
    ByteBuffer b = ByteBuffer.wrap(r.payload()).order(ByteOrder.BIG_ENDIAN);
    long pass = b.getLong();
    int length = b.getInt();
    int flags = b.get() & 0xff;
    if (length <= 0 || (flags & ~FLAG_LAST) != 0) {
      throw new MalformedRecordException(
          "VERIFY record with length " + length + ", flags " + flags);
    }
    return new Mark(r.offset(), length, pass, (flags & FLAG_LAST) != 0);
  }

  /** The VERIFY_SUM record {@code r} as a sum; malformed payloads are refused. */
  public static Sum sum(JournalRecord r) {
    if (r.kind() != JournalRecord.Kind.VERIFY_SUM || r.payload().length != SUM_BYTES) {
      throw new MalformedRecordException("not a well-formed VERIFY_SUM record: " + r.kind());
    }
    ByteBuffer b = ByteBuffer.wrap(r.payload()).order(ByteOrder.BIG_ENDIAN);
    long verifySeq = b.getLong();
    long pass = b.getLong();
    int length = b.getInt();
    long checksum = b.getLong();
    if (length <= 0 || verifySeq <= 0) {
      throw new MalformedRecordException(
          "VERIFY_SUM record with length " + length + ", point " + verifySeq);
    }
    return new Sum(r.offset(), length, verifySeq, pass, checksum);
  }
}
