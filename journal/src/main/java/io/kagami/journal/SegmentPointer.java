package io.kagami.journal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * What RocksDB stores under a sequence number in place of a record kept in a {@link SegmentLog}:
 * where the record lies and its checksum. Distinguished from an inline {@link JournalRecord} by its
 * first byte (a record starts with its version, 1).
 *
 * <p>Layout (big-endian, {@value #BYTES} bytes):
 *
 * <pre>
 * offset  size  field
 * 0       1     0xFE (a record starts with its version, 1)
 * 1       8     segment id (the file is segments/&lt;volume&gt;/&lt;id, 20 digits&gt;.seg)
 * 9       8     byte offset in the segment
 * 17      4     length of the encoded record
 * 21      4     CRC32C of the encoded record
 * </pre>
 *
 * @param segment the segment file's id
 * @param offset where the record starts in it
 * @param length the encoded record's length
 * @param crc CRC32C of the encoded record
 */
record SegmentPointer(long segment, long offset, int length, int crc) {
  static final int BYTES = 25;
  private static final byte MARK = (byte) 0xFE;

  /** Whether a stored value is a pointer (else it is the record itself). */
  static boolean is(byte[] value) {
    return value.length == BYTES && value[0] == MARK;
  }

  static SegmentPointer decode(byte[] value) {
    ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.BIG_ENDIAN);
    b.get();
    return new SegmentPointer(b.getLong(), b.getLong(), b.getInt(), b.getInt());
  }

  /** Length of the record an inline value or a pointer stands for. */
  static int recordLength(byte[] value) {
    return is(value) ? decode(value).length() : value.length;
  }

  byte[] encode() {
    return ByteBuffer.allocate(BYTES)
        .order(ByteOrder.BIG_ENDIAN)
        .put(MARK)
        .putLong(segment)
        .putLong(offset)
        .putInt(length)
        .putInt(crc)
        .array();
  }
}
