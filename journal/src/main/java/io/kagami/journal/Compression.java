package io.kagami.journal;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4FastDecompressor;

/**
 * LZ4 block compression of write payloads, done once when a write enters the journal. A payload is
 * kept compressed only when that saves at least an eighth of it. Every payload is probed first (its
 * first KiB): incompressible data (already compressed or encrypted, the common case for databases
 * and VM images) then costs a 1 KiB attempt instead of a full one. A volume's {@link Probe}
 * remembers failed probes and probes ever less often while its data stays incompressible.
 */
public final class Compression {
  private static final LZ4Factory FACTORY = LZ4Factory.fastestInstance();
  private static final LZ4Compressor COMPRESSOR = FACTORY.fastCompressor();
  private static final LZ4FastDecompressor DECOMPRESSOR = FACTORY.fastDecompressor();
  private static final int MIN_COMPRESS = 512;
  private static final int PROBE = 1024;
  private static final ThreadLocal<byte[]> SCRATCH =
      ThreadLocal.withInitial(() -> new byte[COMPRESSOR.maxCompressedLength(64 << 10)]);

  private Compression() {}

  private static boolean pays(int in, int out) {
    return out <= in - (in >>> 3);
  }

  private static byte[] scratch(int length) {
    int max = COMPRESSOR.maxCompressedLength(length);
    byte[] s = SCRATCH.get();
    if (s.length < max) {
      s = new byte[max];
      SCRATCH.set(s);
    }
    return s;
  }

  /** True when LZ4 is worth trying on {@code data}: a probe of its start compresses well. */
  static boolean worthTrying(ByteBuffer data, int length) {
    if (length < MIN_COMPRESS) {
      return false;
    }
    if (length <= PROBE) {
      return true; // the probe would be the whole attempt
    }
    byte[] s = scratch(PROBE);
    int n = COMPRESSOR.compress(data, data.position(), PROBE, ByteBuffer.wrap(s), 0, s.length);
    return pays(PROBE, n);
  }

  /**
   * One volume's memory of its recent probes. While its writes keep failing the probe, it skips
   * exponentially more of them (1, 2, 4 ... up to {@value #MAX_SKIP} writes between probes); one
   * probe that pays restores probing every write. Why: on incompressible data (a 4 KiB random write
   * stream) the 1 KiB probe alone was ~2.5 % of the site's CPU.
   *
   * <p>Called from several event loops at once without a lock: a lost update only moves the next
   * probe by a write or two, and every probe decision is itself correct (a skipped probe just
   * stores the write uncompressed).
   */
  public static final class Probe {
    static final int MAX_SKIP = 64;
    private int skip;
    private int backoff;

    boolean due() {
      if (skip > 0) {
        skip--;
        return false;
      }
      return true;
    }

    void result(boolean paid) {
      if (paid) {
        backoff = 0;
      } else {
        backoff = backoff == 0 ? 1 : Math.min(MAX_SKIP, backoff * 2);
        skip = backoff;
      }
    }
  }

  /**
   * The encoded {@link JournalRecord} of a WRITE of {@code data} (its remaining bytes) at {@code
   * offset}, built with a single copy of the data: header and payload in one array. When the
   * record's codec is {@link JournalRecord.Codec#NONE} the data itself sits at {@link
   * JournalRecord#HEADER_BYTES} in the returned array.
   */
  public static byte[] encodeWrite(long offset, ByteBuffer data, boolean compress) {
    return encodeWrite(offset, data, compress ? new Probe() : null);
  }

  /**
   * {@link #encodeWrite(long, ByteBuffer, boolean)} that probes as {@code probe} advises; null:
   * never compress.
   */
  public static byte[] encodeWrite(long offset, ByteBuffer data, Probe probe) {
    int length = data.remaining();
    byte[] lz4 = compressed(offset, data, length, probe);
    if (lz4 != null) {
      return lz4;
    }
    byte[] out = header(offset, length, JournalRecord.Codec.NONE, length);
    data.duplicate().get(out, JournalRecord.HEADER_BYTES, length);
    return out;
  }

  /**
   * {@link #encodeWrite(long, ByteBuffer, Probe)} of data the caller already copied into {@code
   * record} at {@link JournalRecord#HEADER_BYTES} (the first bytes are free for the header):
   * returns {@code record} itself, header filled in, when the data stays uncompressed, else a new,
   * smaller LZ4 record ({@code record} then still holds the raw data).
   */
  public static byte[] encodeWriteInPlace(long offset, byte[] record, Probe probe) {
    int length = record.length - JournalRecord.HEADER_BYTES;
    byte[] lz4 =
        compressed(
            offset, ByteBuffer.wrap(record, JournalRecord.HEADER_BYTES, length), length, probe);
    if (lz4 != null) {
      return lz4;
    }
    writeHeader(record, offset, length, JournalRecord.Codec.NONE);
    return record;
  }

  /**
   * The LZ4 record of {@code data} when the probe is due, its probe pays and so does LZ4; else
   * null.
   */
  private static byte[] compressed(long offset, ByteBuffer data, int length, Probe probe) {
    if (probe == null || length < MIN_COMPRESS || !probe.due()) {
      return null;
    }
    if (worthTrying(data, length)) {
      byte[] s = scratch(length);
      int n = COMPRESSOR.compress(data, data.position(), length, ByteBuffer.wrap(s), 0, s.length);
      if (pays(length, n)) {
        probe.result(true);
        byte[] out = header(offset, length, JournalRecord.Codec.LZ4, n);
        System.arraycopy(s, 0, out, JournalRecord.HEADER_BYTES, n);
        return out;
      }
    }
    probe.result(false);
    return null;
  }

  private static byte[] header(long offset, int length, JournalRecord.Codec codec, int payload) {
    byte[] out = new byte[JournalRecord.HEADER_BYTES + payload];
    writeHeader(out, offset, length, codec);
    return out;
  }

  private static void writeHeader(byte[] out, long offset, int length, JournalRecord.Codec codec) {
    ByteBuffer.wrap(out)
        .order(ByteOrder.BIG_ENDIAN)
        .put((byte) JournalRecord.VERSION)
        .put((byte) JournalRecord.Kind.WRITE.code)
        .put((byte) codec.code)
        .put((byte) 0)
        .putLong(offset)
        .putInt(length);
  }

  /** True when an encoded WRITE record stores its data uncompressed (see {@link #encodeWrite}). */
  public static boolean storedRaw(byte[] encoded) {
    return encoded[2] == (byte) JournalRecord.Codec.NONE.code;
  }

  /** A WRITE record for {@code data} (its remaining bytes), compressed when that pays. */
  public static JournalRecord writeRecord(long offset, ByteBuffer data, boolean compress) {
    return JournalRecord.decode(encodeWrite(offset, data, compress));
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
        throw new MalformedRecordException(
            "LZ4 payload has " + (record.payload().length - read) + " trailing bytes");
      }
    } catch (net.jpountz.lz4.LZ4Exception e) {
      throw new MalformedRecordException(
          "LZ4 payload does not decompress to " + record.length() + " bytes: " + e.getMessage());
    }
    return out;
  }
}
