package io.kagami.journal;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Settings of a site's journal.
 *
 * @param directory where RocksDB keeps the journal (created if absent)
 * @param writeBufferBytes memtable size; the journal is a queue, so a large buffer lets most
 *     entries be trimmed before they are ever flushed to a table file
 * @param maxGroupEntries upper bound of appends gathered into one group commit
 * @param segmentBytes size at which a volume's segment file (large records, kept outside RocksDB)
 *     is closed and the next one started; a segment is deleted once all its records are trimmed
 * @param reserveBytes free space the journal's filesystem keeps: appends that would leave less are
 *     refused as "no space" (the host sees ENOSPC) before the journal itself can run out, so it
 *     resumes by itself once space returns; 0 turns the check off
 * @param walBytes RocksDB's {@code max_total_wal_size}: the write-ahead log is flushed into tables
 *     once it holds this much, and each WAL file is allocated up front in blocks of at most this
 *     (the journal's up-front allocation on disk)
 * @param memtableBytes all volumes' memtables together (RocksDB's write buffer manager, off the
 *     heap, charged to the block cache): past it the largest memtable is flushed, whatever the
 *     number of volumes
 * @param blockCacheBytes RocksDB's block cache, shared by all volumes (off the heap); the cache's
 *     capacity is this plus {@code memtableBytes}
 * @param tailCacheBytes each volume's in-memory tail of recent entries (on the heap): readers that
 *     keep up are served from it, older entries are evicted (never lost: RocksDB holds them)
 * @param afterCommitBytes committed record bytes whose after-commit actions (the primary's volume
 *     writes) may wait to run; beyond it appends are acknowledged only once their actions ran, so
 *     writers wait for a slow volume file instead of its backlog growing in memory
 */
public record JournalConfig(
    Path directory,
    long writeBufferBytes,
    int maxGroupEntries,
    long segmentBytes,
    long reserveBytes,
    long walBytes,
    long memtableBytes,
    long blockCacheBytes,
    long tailCacheBytes,
    long afterCommitBytes) {

  public static final long DEFAULT_WRITE_BUFFER_BYTES = 256L << 20;
  public static final int DEFAULT_MAX_GROUP_ENTRIES = 4096;
  public static final long DEFAULT_SEGMENT_BYTES = 64L << 20;
  public static final long DEFAULT_RESERVE_BYTES = 64L << 20;
  public static final long DEFAULT_WAL_BYTES = 64L << 20;

  /** What a journal opened without a site's memory budget uses (tests, tools). */
  public static final long DEFAULT_MEMTABLE_BYTES = 4 * DEFAULT_WRITE_BUFFER_BYTES;

  public static final long DEFAULT_BLOCK_CACHE_BYTES = 16L << 20;
  public static final long DEFAULT_TAIL_CACHE_BYTES = 64L << 20;
  public static final long DEFAULT_AFTER_COMMIT_BYTES = 128L << 20;

  public JournalConfig {
    Objects.requireNonNull(directory, "journal directory");
    if (writeBufferBytes < (4L << 20)) {
      throw new IllegalArgumentException(
          "journal write buffer must be at least 4 MiB, got " + writeBufferBytes + " bytes");
    }
    if (maxGroupEntries < 1) {
      throw new IllegalArgumentException(
          "journal group commit size must be at least 1, got " + maxGroupEntries);
    }
    if (segmentBytes < (1L << 20)) {
      throw new IllegalArgumentException(
          "journal segment size must be at least 1 MiB, got " + segmentBytes + " bytes");
    }
    if (reserveBytes < 0) {
      throw new IllegalArgumentException(
          "journal reserve must not be negative, got " + reserveBytes + " bytes");
    }
    if (walBytes < (1L << 20)) {
      throw new IllegalArgumentException(
          "journal WAL size must be at least 1 MiB, got " + walBytes + " bytes");
    }
    if (memtableBytes < writeBufferBytes) {
      throw new IllegalArgumentException(
          "journal memtables together ("
              + memtableBytes
              + " bytes) must hold at least one write buffer ("
              + writeBufferBytes
              + " bytes)");
    }
    if (blockCacheBytes < (1L << 20)) {
      throw new IllegalArgumentException(
          "journal block cache must be at least 1 MiB, got " + blockCacheBytes + " bytes");
    }
    if (afterCommitBytes < 1) {
      throw new IllegalArgumentException(
          "journal after-commit backlog must be at least 1 byte, got " + afterCommitBytes);
    }
    if (tailCacheBytes < 0) {
      throw new IllegalArgumentException(
          "journal tail cache must not be negative, got " + tailCacheBytes + " bytes");
    }
  }

  /** With the default reserve and WAL size. */
  public JournalConfig(
      Path directory, long writeBufferBytes, int maxGroupEntries, long segmentBytes) {
    this(
        directory,
        writeBufferBytes,
        maxGroupEntries,
        segmentBytes,
        DEFAULT_RESERVE_BYTES,
        DEFAULT_WAL_BYTES,
        Math.max(DEFAULT_MEMTABLE_BYTES, writeBufferBytes),
        DEFAULT_BLOCK_CACHE_BYTES,
        DEFAULT_TAIL_CACHE_BYTES,
        DEFAULT_AFTER_COMMIT_BYTES);
  }

  /** This configuration with the given reserve and WAL size. */
  public JournalConfig withSpace(long reserveBytes, long walBytes) {
    return new JournalConfig(
        directory,
        writeBufferBytes,
        maxGroupEntries,
        segmentBytes,
        reserveBytes,
        walBytes,
        memtableBytes,
        blockCacheBytes,
        tailCacheBytes,
        afterCommitBytes);
  }

  /**
   * This configuration with its memory taken from a site's budget: {@code memtableBytes} for all
   * memtables together (each volume's write buffer a quarter of it, at least 4 MiB), the block
   * cache, each volume's tail cache and the after-commit backlog of all volumes.
   */
  public JournalConfig withMemory(
      long memtableBytes, long blockCacheBytes, long tailCacheBytes, long afterCommitBytes) {
    long writeBuffer = Math.min(DEFAULT_WRITE_BUFFER_BYTES, Math.max(4L << 20, memtableBytes / 4));
    return new JournalConfig(
        directory,
        writeBuffer,
        maxGroupEntries,
        segmentBytes,
        reserveBytes,
        walBytes,
        Math.max(memtableBytes, writeBuffer),
        blockCacheBytes,
        tailCacheBytes,
        afterCommitBytes);
  }

  public static JournalConfig at(Path directory) {
    return new JournalConfig(
        directory, DEFAULT_WRITE_BUFFER_BYTES, DEFAULT_MAX_GROUP_ENTRIES, DEFAULT_SEGMENT_BYTES);
  }
}
