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
 */
public record JournalConfig(
    Path directory,
    long writeBufferBytes,
    int maxGroupEntries,
    long segmentBytes,
    long reserveBytes,
    long walBytes) {

  public static final long DEFAULT_WRITE_BUFFER_BYTES = 256L << 20;
  public static final int DEFAULT_MAX_GROUP_ENTRIES = 4096;
  public static final long DEFAULT_SEGMENT_BYTES = 64L << 20;
  public static final long DEFAULT_RESERVE_BYTES = 64L << 20;
  public static final long DEFAULT_WAL_BYTES = 64L << 20;

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
        DEFAULT_WAL_BYTES);
  }

  /** This configuration with the given reserve and WAL size. */
  public JournalConfig withSpace(long reserveBytes, long walBytes) {
    return new JournalConfig(
        directory, writeBufferBytes, maxGroupEntries, segmentBytes, reserveBytes, walBytes);
  }

  public static JournalConfig at(Path directory) {
    return new JournalConfig(
        directory, DEFAULT_WRITE_BUFFER_BYTES, DEFAULT_MAX_GROUP_ENTRIES, DEFAULT_SEGMENT_BYTES);
  }
}
