package io.kagami.replicator.apply;

import io.kagami.journal.JournalStream;
import io.kagami.replicator.volume.PrimaryVolume;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.function.LongSupplier;

/**
 * The primary's housekeeping for one volume: syncs the volume file, records how far it is
 * durable ({@link Applier#META_APPLIED}, the point crash recovery replays from) and trims history
 * that both the volume file and the standby hold durably.
 */
public final class Checkpointer {
  private final PrimaryVolume volume;
  private final LongSupplier peerDurableSeq;
  private volatile long checkpointSeq;

  public Checkpointer(PrimaryVolume volume, LongSupplier peerDurableSeq) {
    this.volume = volume;
    this.peerDurableSeq = peerDurableSeq;
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
    long trimTo = Math.min(checkpointSeq, peerDurableSeq.getAsLong());
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
