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
 */
public record JournalConfig(
    Path directory, long writeBufferBytes, int maxGroupEntries, long segmentBytes) {

  public static final long DEFAULT_WRITE_BUFFER_BYTES = 256L << 20;
  public static final int DEFAULT_MAX_GROUP_ENTRIES = 4096;
  public static final long DEFAULT_SEGMENT_BYTES = 64L << 20;

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
  }

  public static JournalConfig at(Path directory) {
    return new JournalConfig(
        directory, DEFAULT_WRITE_BUFFER_BYTES, DEFAULT_MAX_GROUP_ENTRIES, DEFAULT_SEGMENT_BYTES);
  }
}
