package io.kagami.replicator.apply;

import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalRecord;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.history.History;
import io.kagami.replicator.verify.ReplicaVerifier;
import io.kagami.replicator.volume.FileVolume;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Applies a volume's journal to its volume file strictly in sequence order, so the file always
 * holds a prefix of the history: the standby's replica is crash-consistent at every moment.
 *
 * <p>{@link #doWork} applies one bounded batch and is what tests drive by hand; {@link #start} runs
 * it on a thread ({@code kagami-apply-<volume>}) woken by journal commits. Periodically the file is
 * synced and the applied sequence number persisted ({@value #META_APPLIED}); after a crash
 * application restarts from there, replaying entries that may already be in the file (replaying a
 * suffix in order is idempotent). History is trimmed only through the synced point.
 *
 * <p>How often: every {@code checkpointInterval}, or sooner once {@link #CHECKPOINT_AFTER_BYTES}
 * have been applied since the last sync. A sync writes back every page dirtied since the one
 * before; further apart, blocks the host overwrites in the meantime are written back once, not each
 * time (a standby at 4k random writes: once a second cost ~7 % of the pair's write rate against
 * every 10 s). The byte bound keeps what a restart replays, and the history kept for it, small.
 *
 * <p>Disk full: when the replica's (or the journal's) filesystem is full, application pauses
 * instead of stopping: {@link #diskFull()} says why, nothing after {@link #appliedSeq()} is marked
 * applied, and the same entry is tried again on the next journal commit or after {@link
 * #FULL_RETRY}, whichever comes first, so the replica catches up by itself once space returns.
 * Re-writing an entry that was partly written is harmless (applying is idempotent in order).
 *
 * <p>One role: applying in order. The points it keeps (applied, newest applied write, checkpoint)
 * and the history operations that move them (rebase, discard, reset) change together under one
 * lock; split apart, each would have to see the others' half-moved points.
 */
public final class Applier implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Applier.class.getName());
  public static final String META_APPLIED = "appliedSeq";

  /** The newest applied write as of the checkpoint (see {@link #appliedWriteSeq()}). */
  public static final String META_APPLIED_WRITE = "appliedWriteSeq";

  /** Applied bytes (the entries' ranges) after which a checkpoint is due whatever the interval. */
  public static final long CHECKPOINT_AFTER_BYTES = 1L << 30;

  /** While the disk is full, the longest wait before applying is tried again. */
  public static final Duration FULL_RETRY = Duration.ofSeconds(1);

  private final String volume;
  private final JournalStream stream;
  private final FileVolume file;
  private final InstantSource clock;
  private final Duration checkpointInterval;
  private final boolean trimAfterCheckpoint;

  /** Before-images of what is applied (a standby with retention or a drill), or null. */
  private final History history;

  private final ReentrantLock lock = new ReentrantLock();

  /** Checks verification points in apply order (a standby), or null. */
  private volatile ReplicaVerifier verifier;

  /** Serializes applying with {@link #rebase}. */
  private final Object applying = new Object();

  private final Condition work = lock.newCondition();
  private Thread thread;
  private boolean closing;
  private boolean signalled;
  private volatile long appliedSeq;
  private volatile long checkpointSeq;

  /** See {@link #appliedWriteSeq()}; written with {@link #appliedSeq} by the applying thread. */
  private volatile long appliedWriteSeq;

  /** Checkpoints trim history only through this (see {@link #holdHistoryAfter}). */
  private volatile long trimLimit = Long.MAX_VALUE;

  private volatile String failure;
  private volatile String diskFull;
  private long lastCheckpointMillis;

  /** Bytes applied since the last checkpoint; applying thread. */
  private long uncheckpointedBytes;

  public Applier(
      String volume,
      JournalStream stream,
      FileVolume file,
      InstantSource clock,
      Duration checkpointInterval,
      boolean trimAfterCheckpoint) {
    this(volume, stream, file, clock, checkpointInterval, trimAfterCheckpoint, null);
  }

  /**
   * {@code history}: where before-images go ahead of each replica write (see {@link History}); may
   * be null.
   */
  public Applier(
      String volume,
      JournalStream stream,
      FileVolume file,
      InstantSource clock,
      Duration checkpointInterval,
      boolean trimAfterCheckpoint,
      History history) {
    this.history = history;
    this.volume = volume;
    this.stream = stream;
    this.file = file;
    this.clock = clock;
    this.checkpointInterval = checkpointInterval;
    this.trimAfterCheckpoint = trimAfterCheckpoint;
    this.checkpointSeq = stream.meta(META_APPLIED, 0);
    this.appliedSeq = checkpointSeq;
    // Absent (a data directory from before it was kept) or ahead of a checkpoint a crash cut
    // short: the checkpoint itself, a seq at or after the newest write it holds.
    this.appliedWriteSeq = Math.min(stream.meta(META_APPLIED_WRITE, checkpointSeq), checkpointSeq);
    this.lastCheckpointMillis = clock.millis();
  }

  /**
   * Brings the volume file up to the journal's end (crash recovery of the primary's volume), syncs
   * it and records the point. Returns how many entries were replayed.
   */
  public int catchUp() {
    int total = 0;
    int n;
    while ((n = doWork(4096)) > 0) {
      total += n;
    }
    checkpoint();
    return total;
  }

  /** Applies up to {@code maxEntries} committed entries after {@link #appliedSeq()}. */
  public int doWork(int maxEntries) {
    synchronized (applying) {
      return applyLocked(maxEntries);
    }
  }

  private int applyLocked(int maxEntries) {
    long from = appliedSeq + 1;
    if (from > stream.lastSeq()) {
      maybeCheckpoint();
      return 0;
    }
    List<JournalEntry> entries = stream.read(from, 8 << 20);
    List<JournalEntry> batch = untilVerifyPoint(entries, maxEntries);
    if (history != null) {
      try {
        history.apply(batch, file, this::journaledMillis);
      } catch (IOException ex) {
        throw new UncheckedIOException(
            "volume "
                + volume
                + ": applying seq "
                + batch.getFirst().seq()
                + ".."
                + batch.getLast().seq()
                + " failed: "
                + ex.getMessage(),
            ex);
      }
      if (!batch.isEmpty()) {
        verify(batch);
        long write = appliedWriteSeq;
        for (JournalEntry e : batch) {
          uncheckpointedBytes += e.record().length();
          if (JournalRecord.changesData(e.encoded())) {
            write = e.seq();
          }
        }
        appliedWriteSeq = write;
        appliedSeq = batch.getLast().seq();
      }
      maybeCheckpoint();
      return batch.size();
    }
    int n = 0;
    for (JournalEntry e : batch) {
      try {
        JournalRecord r = e.record();
        file.apply(r);
        if (r.kind().verification()) {
          verify(List.of(e));
        }
      } catch (IOException ex) {
        throw new UncheckedIOException(
            "volume " + volume + ": applying seq " + e.seq() + " failed: " + ex.getMessage(), ex);
      }
      if (JournalRecord.changesData(e.encoded())) {
        appliedWriteSeq = e.seq();
      }
      appliedSeq = e.seq();
      uncheckpointedBytes += e.record().length();
      n++;
    }
    maybeCheckpoint();
    return n;
  }

  /**
   * At most {@code maxEntries} of {@code entries}, ending with the first VERIFY point among them: a
   * point is checked with the replica holding exactly the history before it (the point itself
   * changes nothing), so it always ends a batch (batches may coalesce what they apply).
   */
  private List<JournalEntry> untilVerifyPoint(List<JournalEntry> entries, int maxEntries) {
    int end = Math.min(entries.size(), maxEntries);
    if (verifier == null) {
      return entries.subList(0, end);
    }
    for (int i = 0; i < end; i++) {
      if (JournalRecord.header(entries.get(i).encoded()).kind() == JournalRecord.Kind.VERIFY) {
        return entries.subList(0, i + 1);
      }
    }
    return entries.subList(0, end);
  }

  /** Hands the verification records of {@code applied} (just applied) to the verifier. */
  private void verify(List<JournalEntry> applied) {
    ReplicaVerifier v = verifier;
    if (v == null) {
      return;
    }
    for (JournalEntry e : applied) {
      if (!JournalRecord.header(e.encoded()).kind().verification()) {
        continue;
      }
      try {
        v.applied(e.seq(), e.record(), file);
      } catch (IOException | RuntimeException ex) {
        // Verification must never stop the replica following its primary.
        LOG.log(
            Level.WARNING,
            "volume {0}: verification point at seq {1} not checked: {2}",
            volume,
            e.seq(),
            ex.getMessage());
      }
    }
  }

  /**
   * From now on, verification points applied here are checked by {@code v} (a standby volume);
   * {@link ReplicaVerifier} skips those the replica may already be past.
   */
  public void verifyWith(ReplicaVerifier v) {
    this.verifier = v;
  }

  /** When entry {@code seq} was journaled here (its group commit), for the history's time index. */
  private long journaledMillis(long seq) {
    long m = stream.oldestMillisAfter(seq - 1);
    return m < 0 ? clock.millis() : m;
  }

  /**
   * Runs {@code action} between two batches, with nothing being applied meanwhile: a drill pins its
   * point at exactly the applied seq.
   */
  public <T> T paused(java.util.function.Supplier<T> action) {
    synchronized (applying) {
      return action.get();
    }
  }

  private void maybeCheckpoint() {
    if (appliedSeq > checkpointSeq
        && (clock.millis() - lastCheckpointMillis >= checkpointInterval.toMillis()
            || uncheckpointedBytes >= CHECKPOINT_AFTER_BYTES)) {
      checkpoint();
    }
  }

  /** Syncs the file, persists the applied point and trims history up to it. */
  public void checkpoint() {
    synchronized (applying) {
      checkpointLocked();
    }
  }

  private void checkpointLocked() {
    long seq = appliedSeq;
    lastCheckpointMillis = clock.millis();
    uncheckpointedBytes = 0;
    if (seq <= checkpointSeq) {
      return;
    }
    try {
      file.force();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "volume " + volume + ": syncing the volume file failed: " + e.getMessage(), e);
    }
    // The write point first: a crash between the two leaves it ahead of the checkpoint, which the
    // constructor reads as the checkpoint (never a point before a write the replica holds).
    stream.putMeta(META_APPLIED_WRITE, appliedWriteSeq);
    stream.putMeta(META_APPLIED, seq);
    checkpointSeq = seq;
    if (trimAfterCheckpoint) {
      stream.trimThrough(Math.min(seq, trimLimit));
    }
  }

  public long appliedSeq() {
    return appliedSeq;
  }

  /**
   * The newest applied entry that changes the volume (a write, trim or zeroing): every entry after
   * it through {@link #appliedSeq()} is a verification point, which changes nothing, so the replica
   * holds exactly the state after this entry. What "the newest write" of a replica means to a
   * drill, a recovery's point and its time. When that entry is not known (a data directory from
   * before it was kept, history cut by a rollback or a resync), a seq at or after it with the same
   * property. Read with {@link #appliedSeq()} under {@link #paused} for a matching pair.
   */
  public long appliedWriteSeq() {
    return appliedWriteSeq;
  }

  /**
   * Standby resync: applies and checkpoints everything held, then continues the history at {@code
   * base} (see {@link JournalStream#rebase}); the regions that follow replace what lies between.
   */
  public void rebase(long base) {
    synchronized (applying) {
      while (applyLocked(4096) > 0) {
        // drain
      }
      checkpointLocked();
      stream.rebase(base);
      if (history != null) {
        history.reset(base);
      }
      stream.putMeta(META_APPLIED_WRITE, base);
      stream.putMeta(META_APPLIED, base);
      appliedSeq = base;
      appliedWriteSeq = base;
      checkpointSeq = base;
    }
  }

  /**
   * An old primary rejoining as a standby: everything held is applied and made durable, then the
   * history after {@code seq} (its writes after the fork, saved aside by the caller) is dropped and
   * the applied point set back to {@code seq}. The replica still holds those writes; the caller has
   * marked it inconsistent and the new primary copies their regions.
   */
  public void discardAfter(long seq) {
    synchronized (applying) {
      while (applyLocked(4096) > 0) {
        // drain
      }
      checkpointLocked();
      // The applied point first: a crash before the truncation re-applies entries already in the
      // file.
      stream.putMeta(META_APPLIED, Math.min(seq, checkpointSeq));
      stream.truncateAfter(seq);
      appliedSeq = Math.min(seq, checkpointSeq);
      appliedWriteSeq = Math.min(appliedWriteSeq, appliedSeq);
      stream.putMeta(META_APPLIED_WRITE, appliedWriteSeq);
      checkpointSeq = appliedSeq;
    }
  }

  /**
   * Keeps the history after {@code seq} although it is applied: an old primary rejoining as a
   * standby must still know its own writes the peer never confirmed when the new primary connects
   * (they are saved aside and their ranges copied back). {@link #releaseHistory()} ends it.
   */
  public void holdHistoryAfter(long seq) {
    trimLimit = seq;
  }

  public void releaseHistory() {
    trimLimit = Long.MAX_VALUE;
  }

  /**
   * After a point-in-time rollback rewrote the replica and cut the journal at {@code seq}: the
   * replica is applied, and durable, exactly through {@code seq}. Call with the applier stopped.
   */
  public void resetTo(long seq) {
    synchronized (applying) {
      appliedSeq = seq;
      // A write after seq is gone; one at or before it is still the newest.
      appliedWriteSeq = Math.min(appliedWriteSeq, seq);
      stream.putMeta(META_APPLIED_WRITE, appliedWriteSeq);
      checkpointSeq = seq;
    }
  }

  public long checkpointSeq() {
    return checkpointSeq;
  }

  /**
   * Why application is paused for lack of space (it resumes by itself once there is room), or null.
   */
  public String diskFull() {
    return diskFull;
  }

  /** Why application stopped, or null while it runs. */
  public String failure() {
    return failure;
  }

  /**
   * Runs {@link #doWork} on its own thread, woken by journal commits and every checkpoint interval.
   */
  public void start() {
    stream.onCommit(this::signal);
    thread = Thread.ofPlatform().name("kagami-apply-" + volume).daemon(true).start(this::run);
  }

  private void signal() {
    lock.lock();
    try {
      signalled = true;
      work.signal();
    } finally {
      lock.unlock();
    }
  }

  private void run() {
    try {
      while (true) {
        lock.lock();
        try {
          boolean full = diskFull != null;
          if (!signalled && !closing && (full || appliedSeq >= stream.lastSeq())) {
            Duration wait =
                full && FULL_RETRY.compareTo(checkpointInterval) < 0
                    ? FULL_RETRY
                    : checkpointInterval;
            work.await(wait.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
          }
          if (closing) {
            break;
          }
          signalled = false;
        } finally {
          lock.unlock();
        }
        applyOrPause();
      }
      checkpoint();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      failure = e.getMessage();
      LOG.log(
          Level.ERROR,
          "volume " + volume + ": applier stopped; the replica stays at seq " + appliedSeq,
          e);
    }
  }

  /** One round of applying; a full disk pauses application instead of ending it. */
  private void applyOrPause() {
    try {
      doWork(1024);
    } catch (RuntimeException e) {
      if (!io.kagami.journal.DiskSpace.isNoSpace(e)) {
        throw e;
      }
      if (diskFull == null) {
        LOG.log(
            Level.ERROR,
            "volume "
                + volume
                + ": filesystem full, applying paused at seq "
                + appliedSeq
                + " (retried on every commit and every "
                + FULL_RETRY.toSeconds()
                + " s): "
                + e.getMessage());
      }
      diskFull =
          "volume "
              + volume
              + ": filesystem full, the replica stays at seq "
              + appliedSeq
              + " until there is room ("
              + e.getMessage()
              + ")";
      return;
    }
    if (diskFull != null) {
      diskFull = null;
      LOG.log(
          Level.WARNING,
          "volume {0}: filesystem has room again, applying resumed at seq {1}",
          volume,
          appliedSeq);
    }
  }

  @Override
  public void close() {
    lock.lock();
    try {
      closing = true;
      work.signal();
    } finally {
      lock.unlock();
    }
    if (thread != null) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
