package io.kagami.replicator.apply;

import io.kagami.journal.JournalStream;
import io.kagami.replicator.volume.PrimaryVolume;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.LongUnaryOperator;

/**
 * The primary's housekeeping for one volume: syncs the volume file, records how far it is durable
 * ({@link Applier#META_APPLIED}, the point crash recovery replays from) and trims history the
 * volume file holds durably, as far as {@code trimBound} allows (normally: what the standby holds
 * too; see {@code Backlog#trimBound}).
 *
 * <p>The volume file is synced only when that lets more history go: when the standby (or the
 * changed-region map) holds entries past the last checkpoint. While the standby is further behind
 * than that, history is trimmed up to what it holds without a sync, and syncing would only write
 * the host's working set to the disk again and again (at 1 MiB writes a 1 GiB volume was forced
 * once a second, up to a gigabyte each time, on the disk the journal needs). And at most every
 * {@link #MIN_ROUNDS_BETWEEN_SYNCS} rounds, unless {@link Applier#CHECKPOINT_AFTER_BYTES} were
 * journaled since the last one: blocks the host overwrites in between are then written back once
 * (at 4k random writes, syncing every second instead of every 10 cost ~7 % of the write rate). At
 * least every {@link #MAX_ROUNDS_WITHOUT_SYNC} rounds it syncs anyway, which bounds what a restart
 * after a crash replays.
 */
public final class Checkpointer {
  /** Rounds (housekeeping ticks, normally a second each) a checkpoint may be put off. */
  static final int MAX_ROUNDS_WITHOUT_SYNC = 30;

  /** Rounds between two syncs at the least, unless much was written meanwhile. */
  static final int MIN_ROUNDS_BETWEEN_SYNCS = 10;

  private final PrimaryVolume volume;
  private final LongUnaryOperator trimBound;
  private volatile long checkpointSeq;
  private int roundsWithoutSync;

  /**
   * @param trimBound given the checkpointed seq, the highest seq that may be trimmed
   */
  public Checkpointer(PrimaryVolume volume, LongUnaryOperator trimBound) {
    this.volume = volume;
    this.trimBound = trimBound;
    this.checkpointSeq = volume.stream().meta(Applier.META_APPLIED, 0);
  }

  /** One checkpoint; returns the number of history entries trimmed. */
  public long doWork() {
    JournalStream stream = volume.stream();
    long applied = volume.appliedSeq();
    if (applied > checkpointSeq && syncDue(stream, applied)) {
      roundsWithoutSync = 0;
      try {
        volume.file().force();
      } catch (IOException e) {
        throw new UncheckedIOException(
            "volume " + volume.name() + ": syncing the volume file failed: " + e.getMessage(), e);
      }
      stream.putMeta(Applier.META_APPLIED, applied);
      checkpointSeq = applied;
    }
    long trimTo = Math.min(checkpointSeq, trimBound.applyAsLong(checkpointSeq));
    long before = stream.firstSeq();
    if (trimTo >= before) {
      stream.trimThrough(trimTo);
      return stream.firstSeq() - before;
    }
    return 0;
  }

  /**
   * Counts a round with unsynced changes; true when this one should sync (see the class comment).
   */
  private boolean syncDue(JournalStream stream, long applied) {
    roundsWithoutSync++;
    if (roundsWithoutSync >= MAX_ROUNDS_WITHOUT_SYNC) {
      return true;
    }
    boolean paced =
        roundsWithoutSync >= MIN_ROUNDS_BETWEEN_SYNCS
            || stream.bytesAfter(checkpointSeq) >= Applier.CHECKPOINT_AFTER_BYTES;
    return paced && trimBound.applyAsLong(applied) > checkpointSeq;
  }

  public long checkpointSeq() {
    return checkpointSeq;
  }
}
