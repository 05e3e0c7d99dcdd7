package io.kagami.replicator.resync;

import io.kagami.journal.DurableFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.zip.CRC32C;

/**
 * The regions of a primary volume the standby may not hold: what a resynchronization must copy. A
 * volume falls back to it when its unsent history outgrows its capacity; the journal's payloads are
 * then dropped and only "this region changed" is remembered, at a configurable granularity.
 *
 * <p>Persistence: {@link #persist} writes the whole map to a temporary file, syncs it and renames
 * it over the previous one, so a crash leaves either the old or the new map, never a torn one; a
 * checksum guards against anything else. {@code markedThrough} travels with the bits: the journal
 * entries through it are accounted for in the map (their payloads may be trimmed).
 *
 * <p>File layout (big-endian): u32 magic "KGBM" | u32 version 1 | u32 granularity | u64 volume size
 * | u64 markedThrough | u32 word count | words (u64 each) | u32 CRC32C of everything before.
 *
 * <p>Thread-safe (all methods synchronized); a map of a 16 TiB volume at 64 KiB is 32 MiB.
 */
public final class DirtyBitmap {
  private static final int MAGIC = 0x4b47424d; // "KGBM"
  private static final int VERSION = 1;

  private final Path file;
  private final int granularity;
  private final long volumeBytes;
  private final BitSet bits;
  private long markedThrough;

  private DirtyBitmap(
      Path file, int granularity, long volumeBytes, BitSet bits, long markedThrough) {
    this.file = file;
    this.granularity = granularity;
    this.volumeBytes = volumeBytes;
    this.bits = bits;
    this.markedThrough = markedThrough;
  }

  /**
   * Loads the map in {@code file}, or starts a clean one when there is none. A map written for
   * another volume size or granularity is refused: its bits would name the wrong regions.
   */
  public static DirtyBitmap open(Path file, int granularity, long volumeBytes) throws IOException {
    if (granularity < 4096 || Integer.bitCount(granularity) != 1) {
      throw new IllegalArgumentException(
          "bitmap granularity must be a power of two of at least 4 KiB, got " + granularity);
    }
    byte[] data;
    try {
      data = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return new DirtyBitmap(file, granularity, volumeBytes, new BitSet(), 0);
    }
    ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.BIG_ENDIAN);
    if (data.length < 36 || b.getInt() != MAGIC) {
      throw new IOException("dirty bitmap " + file + " is not a Kagami bitmap");
    }
    CRC32C crc = new CRC32C();
    crc.update(data, 0, data.length - 4);
    if ((int) crc.getValue()
        != ByteBuffer.wrap(data, data.length - 4, 4).order(ByteOrder.BIG_ENDIAN).getInt()) {
      throw new IOException("dirty bitmap " + file + " is damaged (checksum mismatch)");
    }
    int version = b.getInt();
    int g = b.getInt();
    long size = b.getLong();
    long marked = b.getLong();
    int words = b.getInt();
    if (version != VERSION
        || g != granularity
        || size != volumeBytes
        || words < 0
        || words * 8L != data.length - 36L) {
      throw new IOException(
          "dirty bitmap "
              + file
              + " was written for granularity "
              + g
              + " and volume size "
              + size
              + ", not "
              + granularity
              + " and "
              + volumeBytes
              + "; a resync of the whole volume is needed (remove the file and mark the volume for initial sync)");
    }
    long[] w = new long[words];
    for (int i = 0; i < words; i++) {
      w[i] = b.getLong();
    }
    return new DirtyBitmap(file, granularity, volumeBytes, BitSet.valueOf(w), marked);
  }

  public int granularity() {
    return granularity;
  }

  /** Number of regions the volume has. */
  public long regions() {
    return (volumeBytes + granularity - 1) / granularity;
  }

  /** Marks every region {@code [offset, offset + length)} touches. */
  public synchronized void mark(long offset, long length) {
    if (length <= 0) {
      return;
    }
    int first = (int) (offset / granularity);
    int last = (int) Math.min(regions() - 1, (offset + length - 1) / granularity);
    bits.set(first, last + 1);
  }

  /** Marks the whole volume (a new or replaced standby: everything must be compared). */
  public synchronized void markAll() {
    bits.set(0, (int) regions());
  }

  public synchronized void clear(long region) {
    bits.clear((int) region);
  }

  public synchronized boolean isDirty(long region) {
    return bits.get((int) region);
  }

  /** The first dirty region at or after {@code from}, or -1. */
  public synchronized long nextDirty(long from) {
    if (from >= regions()) {
      return -1;
    }
    return bits.nextSetBit((int) from);
  }

  public synchronized long dirtyRegions() {
    return bits.cardinality();
  }

  /** Bytes of the volume the dirty regions cover (the last region may be short). */
  public synchronized long dirtyBytes() {
    long n = bits.cardinality();
    long bytes = n * granularity;
    long lastRegion = regions() - 1;
    if (bits.get((int) lastRegion)) {
      bytes -= (long) granularity * regions() - volumeBytes;
    }
    return bytes;
  }

  /** Offset and length of {@code region}. */
  public long offsetOf(long region) {
    return region * granularity;
  }

  public int lengthOf(long region) {
    return (int) Math.min(granularity, volumeBytes - region * granularity);
  }

  public synchronized long markedThrough() {
    return markedThrough;
  }

  public synchronized void markedThrough(long seq) {
    markedThrough = Math.max(markedThrough, seq);
  }

  /** Writes the map durably (temporary file, sync, atomic rename, directory sync). */
  public void persist() throws IOException {
    byte[] out;
    synchronized (this) {
      long[] words = bits.toLongArray();
      ByteBuffer b = ByteBuffer.allocate(36 + words.length * 8).order(ByteOrder.BIG_ENDIAN);
      b.putInt(MAGIC)
          .putInt(VERSION)
          .putInt(granularity)
          .putLong(volumeBytes)
          .putLong(markedThrough)
          .putInt(words.length);
      for (long w : words) {
        b.putLong(w);
      }
      CRC32C crc = new CRC32C();
      crc.update(b.array(), 0, b.position());
      b.putInt((int) crc.getValue());
      out = b.array();
    }
    DurableFiles.replace(file, out);
  }
}
