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
 */
public record JournalConfig(Path directory, long writeBufferBytes, int maxGroupEntries) {

  public static final long DEFAULT_WRITE_BUFFER_BYTES = 256L << 20;
  public static final int DEFAULT_MAX_GROUP_ENTRIES = 4096;

  public JournalConfig {
    Objects.requireNonNull(directory, "journal directory");
    if (writeBufferBytes < (4L << 20)) {
      throw new IllegalArgumentException("journal write buffer must be at least 4 MiB, got " + writeBufferBytes + " bytes");
    }
    if (maxGroupEntries < 1) {
      throw new IllegalArgumentException("journal group commit size must be at least 1, got " + maxGroupEntries);
    }
  }

  public static JournalConfig at(Path directory) {
    return new JournalConfig(directory, DEFAULT_WRITE_BUFFER_BYTES, DEFAULT_MAX_GROUP_ENTRIES);
  }
}
