package io.kagami.wan.ship;

import java.util.List;

/**
 * The regions of a primary volume a standby must get copied before history shipping can go on:
 * after the history overflowed its capacity, or for a standby whose history is gone (new or
 * replaced). Called from the shipper's agent thread only; methods may block on disk.
 */
public interface ResyncSource {

  /** True when regions must be copied before history can be shipped. */
  boolean needed();

  /**
   * The standby (re)connected holding the history through {@code durableSeq}; when neither the
   * journal nor the region map covers what it lacks (a new, replaced or restored standby), the
   * whole volume is marked for copying.
   */
  void standbyResumesAt(long durableSeq);

  /**
   * The standby's replica differs in {@code ranges} from what its history says (it rejoined after a
   * failover, its own writes after the fork discarded): mark them for copying, with everything this
   * primary wrote since the standby's durable point.
   */
  default void standbyDiverged(List<io.kagami.wan.frame.WanMessage.Range> ranges) {
    throw new UnsupportedOperationException("volume cannot copy diverged ranges");
  }

  /**
   * Starts a pass; returns the base: the standby continues its history at it, and history is
   * shipped from base + 1 once every region was sent.
   */
  long begin();

  /**
   * True when the pass just begun should compare checksums first (a full copy: the standby may hold
   * much of the volume already); regions it lacks are sent by a following pass.
   */
  boolean comparing();

  /** The first region at or after {@code from} that still needs copying, or -1. */
  long nextDirty(long from);

  long offsetOf(long region);

  /** The region {@code offset} lies in. */
  long regionAt(long offset);

  int lengthOf(long region);

  /** The region's content now; null when it is all zeroes. */
  byte[] read(long region);

  /** The standby holds {@code region} durably. */
  void durable(long region);

  /**
   * Every region of the pass was sent; returns the seq the replica is consistent at once applied.
   */
  long end();
}
