package io.kagami.replicator.volume;

/**
 * Receives how long each journal append of a {@link PrimaryVolume} took: from the change entering
 * the journal's queue to its commit (WAL write, and WAL sync for FUA) completing, before the volume
 * file write and the client's reply. A seam for metrics, so the replicator knows nothing of a
 * metrics library; {@link #NONE} costs no clock reads.
 *
 * <p>Called on the journal thread, once per append, in sequence order: implementations must be
 * cheap and must not block.
 */
@FunctionalInterface
public interface AppendTimer {
  /** Times nothing; {@link PrimaryVolume} then does not read the clock at all. */
  AppendTimer NONE = nanos -> {};

  void appended(long nanos);
}
