package io.kagami.replicator.apply;

import io.kagami.journal.JournalStream;

/**
 * Whether a standby's replica is crash-consistent. While a resync runs (and after a failback
 * discarded this site's own writes) regions arrive out of order, so the replica is consistent only
 * once its applier has passed the seq the primary names at the end of the resync. That point is
 * kept durably in the journal's metadata, written before the first out-of-order region lands.
 *
 * <p>Threads: the marking methods write journal metadata (RocksDB, synced): call them from the
 * volume's storage thread, never from an event loop. {@link #consistent()} reads memory, any
 * thread.
 */
public final class ReplicaConsistency {
  /** Durable: the seq through which the replica must be applied to be consistent again. */
  public static final String META_CONSISTENT_AT = "consistentAt";

  private final JournalStream stream;
  private final Applier applier;
  private volatile long consistentAt;

  public ReplicaConsistency(JournalStream stream, Applier applier) {
    this.stream = stream;
    this.applier = applier;
    this.consistentAt = stream.meta(META_CONSISTENT_AT, 0);
  }

  /** From now on (durably) inconsistent, until {@link #consistentAt} names the point. */
  public void inconsistentUntilResyncEnds() {
    stream.putMeta(META_CONSISTENT_AT, Long.MAX_VALUE);
    consistentAt = Long.MAX_VALUE;
  }

  /** Every region arrived: consistent once the applier passed {@code seq}. */
  public void consistentAt(long seq) {
    stream.putMeta(META_CONSISTENT_AT, seq);
    consistentAt = seq;
  }

  /** False while a resync is incomplete: the replica mixes old and new regions. */
  public boolean consistent() {
    return applier.appliedSeq() >= consistentAt;
  }
}
