package io.kagami.replicator.apply;

import io.kagami.journal.JournalStream;
import io.kagami.replicator.volume.PrimaryVolume;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.LongUnaryOperator;

/**
 * The primary's housekeeping for one volume: syncs the volume file, records how far it is
 * durable ({@link Applier#META_APPLIED}, the point crash recovery replays from) and trims history
 * the volume file holds durably, as far as {@code trimBound} allows (normally: what the standby
 * holds too; see {@code Backlog#trimBound}).
 */
public final class Checkpointer {
  private final PrimaryVolume volume;
  private final LongUnaryOperator trimBound;
  private volatile long checkpointSeq;

  /** @param trimBound given the checkpointed seq, the highest seq that may be trimmed */
  public Checkpointer(PrimaryVolume volume, LongUnaryOperator trimBound) {
    this.volume = volume;
    this.trimBound = trimBound;
    this.checkpointSeq = volume.stream().meta(Applier.META_APPLIED, 0);
  }

  /** One checkpoint; returns the number of history entries trimmed. */
  public long doWork() {
    JournalStream stream = volume.stream();
    long applied = volume.appliedSeq();
    if (applied > checkpointSeq) {
      try {
        volume.file().force();
      } catch (IOException e) {
        throw new UncheckedIOException("volume " + volume.name() + ": syncing the volume file failed: " + e.getMessage(), e);
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

  public long checkpointSeq() {
    return checkpointSeq;
  }
}
