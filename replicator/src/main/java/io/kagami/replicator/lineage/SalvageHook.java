package io.kagami.replicator.lineage;

/**
 * A fault seam in the save of a diverged history ({@link DivergedHistory}): told before each
 * diverged write is copied into the saved image. A no-op in production; a test slows the save down
 * with it (waiting on a future) to show that nothing else waits for it.
 */
@FunctionalInterface
public interface SalvageHook {
  SalvageHook NONE = seq -> {};

  /** The write at {@code seq} is about to be saved aside; runs on the saving thread. */
  void saving(long seq);
}
