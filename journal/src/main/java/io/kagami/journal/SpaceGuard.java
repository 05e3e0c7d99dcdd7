package io.kagami.journal;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;
import java.io.File;
import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Admits journal appends only while the journal's filesystem keeps a reserve free: the room RocksDB
 * needs for its own records (manifest, flushes, the applied and forced points) and the site for its
 * state records. An append that would eat into the reserve is refused with a {@link
 * JournalException} that says {@link JournalException#noSpace() no space}, before it is given a
 * sequence number, so nothing needs undoing and the journal itself never meets {@code ENOSPC}
 * (which would stop it until a restart).
 *
 * <p>Healing is event-driven: while refusing, every append asks the filesystem again, so the first
 * append after space returns is admitted; nothing polls. While admitting, the free space is asked
 * again only once the bytes admitted since the last look could bring it near the reserve (or every
 * {@link #RESTAT_AFTER_BYTES}), or {@link #RESTAT_AFTER_NANOS} after it: another process filling
 * the filesystem is seen within that time, not only after this journal's own writes could have
 * filled it (ChaosIT's disk-full fault, filled from outside, got past a guard that trusted a
 * minutes-old look). The hot path costs a subtraction and a read of the monotonic clock.
 *
 * <p>Thread-safety: {@link #admit} runs under the committer's lock; {@link #refusal()} is read by
 * any thread.
 */
final class SpaceGuard {
  /** Admitted bytes after which the free space is asked again even far from the reserve. */
  static final long RESTAT_AFTER_BYTES = 64L << 20;

  /** Time after which the free space is asked again even far from the reserve (20 ms). */
  static final long RESTAT_AFTER_NANOS = 20_000_000L;

  /** Answers how many bytes are free where the journal lives. */
  interface FreeSpace {
    long usableBytes() throws IOException;
  }

  private final Path directory;
  private final FreeSpace free;
  private final long reserve;
  private final NanoClock nanos;
  private long knownUsable = -1;
  private long lookedAtNanos;
  private long admittedSince;
  private volatile String refusal;

  SpaceGuard(Path directory, FreeSpace free, long reserve) {
    this(directory, free, reserve, SystemTime.NANO);
  }

  SpaceGuard(Path directory, FreeSpace free, long reserve, NanoClock nanos) {
    this.directory = directory;
    this.free = free;
    this.reserve = reserve;
    this.nanos = nanos;
  }

  static SpaceGuard of(Path directory, long reserve) {
    FreeSpace free;
    try {
      FileStore store = Files.getFileStore(directory);
      free = store::getUsableSpace;
    } catch (IOException e) {
      // Without a mount table to read (a chroot without /proc, some containers) the JDK cannot
      // name the file store, but statvfs on the directory still answers. A total of 0 means it
      // could not either: then say so, and admit() admits rather than refusing every write.
      File dir = directory.toFile();
      free =
          () -> {
            if (dir.getTotalSpace() == 0) {
              throw new IOException("the free space of " + directory + " cannot be read");
            }
            return dir.getUsableSpace();
          };
    }
    return new SpaceGuard(directory, free, reserve);
  }

  /** Null when {@code bytes} more may be written; the refusal otherwise. */
  JournalException admit(long bytes) {
    if (reserve <= 0 && refusal == null) {
      return null;
    }
    long now = nanos.nanoTime();
    if (refusal == null
        && knownUsable >= 0
        && admittedSince < RESTAT_AFTER_BYTES
        && now - lookedAtNanos < RESTAT_AFTER_NANOS
        && knownUsable - admittedSince - bytes >= 2 * reserve) {
      admittedSince += bytes;
      return null;
    }
    lookedAtNanos = now;
    try {
      knownUsable = free.usableBytes();
    } catch (IOException e) {
      knownUsable = -1; // cannot tell: admit, and let the write itself report what is wrong
      return null;
    }
    admittedSince = 0;
    if (knownUsable - bytes < reserve) {
      String why =
          "journal filesystem of "
              + directory
              + " is full: "
              + knownUsable
              + " bytes free, "
              + reserve
              + " bytes are kept in reserve (journal.reserve); writes are refused with ENOSPC until space is freed";
      if (refusal == null) {
        System.getLogger(SpaceGuard.class.getName()).log(System.Logger.Level.ERROR, why);
      }
      refusal = why;
      return new JournalException(why, null, true);
    }
    if (refusal != null) {
      System.getLogger(SpaceGuard.class.getName())
          .log(
              System.Logger.Level.WARNING,
              "journal filesystem of {0} has room again ({1} bytes free): appends resume",
              directory,
              knownUsable);
      refusal = null;
    }
    admittedSince = bytes;
    return null;
  }

  /**
   * A write met a full filesystem although the reserve was there at the last look (another writer
   * took it): refuse from now on, and ask the filesystem again on every append until it has room.
   */
  void refuse(String why) {
    refusal = why;
  }

  /** Why appends are being refused for space, or null while they are admitted. */
  String refusal() {
    return refusal;
  }
}
