package io.kagami.journal;

import java.nio.ByteBuffer;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4FastDecompressor;

/**
 * LZ4 block compression of write payloads, done once when a write enters the journal. A payload
 * is kept compressed only when that saves at least an eighth of it, so incompressible data costs
 * one failed attempt and nothing on the WAN side.
 */
public final class Compression {
  private static final LZ4Factory FACTORY = LZ4Factory.fastestInstance();
  private static final LZ4Compressor COMPRESSOR = FACTORY.fastCompressor();
  private static final LZ4FastDecompressor DECOMPRESSOR = FACTORY.fastDecompressor();

  private Compression() {}

  /** A WRITE record for {@code data} (its remaining bytes), compressed when that pays. */
  public static JournalRecord writeRecord(long offset, ByteBuffer data, boolean compress) {
    int length = data.remaining();
    if (compress && length >= 512) {
      int max = COMPRESSOR.maxCompressedLength(length);
      byte[] out = new byte[max];
      int n = COMPRESSOR.compress(data.duplicate(), data.position(), length, ByteBuffer.wrap(out), 0, max);
      if (n <= length - (length >>> 3)) {
        byte[] exact = new byte[n];
        System.arraycopy(out, 0, exact, 0, n);
        return new JournalRecord(JournalRecord.Kind.WRITE, offset, length, JournalRecord.Codec.LZ4, exact);
      }
    }
    byte[] raw = new byte[length];
    data.duplicate().get(raw);
    return new JournalRecord(JournalRecord.Kind.WRITE, offset, length, JournalRecord.Codec.NONE, raw);
  }

  /** The uncompressed data of a WRITE record. */
  public static byte[] data(JournalRecord record) {
    if (record.kind() != JournalRecord.Kind.WRITE) {
      throw new IllegalArgumentException(record.kind() + " has no data");
    }
    if (record.codec() == JournalRecord.Codec.NONE) {
      return record.payload();
    }
    byte[] out = new byte[record.length()];
    try {
      int read = DECOMPRESSOR.decompress(record.payload(), 0, out, 0, record.length());
      if (read != record.payload().length) {
        throw new MalformedRecordException("LZ4 payload has " + (record.payload().length - read) + " trailing bytes");
      }
    } catch (net.jpountz.lz4.LZ4Exception e) {
      throw new MalformedRecordException("LZ4 payload does not decompress to " + record.length() + " bytes: " + e.getMessage());
    }
    return out;
  }
}
