package io.kagami.site;

import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * A volume's replication state as operators see it: {@code state} in {@code GET /status} and one
 * {@code kagami_volume_state{state=...}} series per value (1 for the current one). The site derives
 * it from live figures (journal and link failures, the backlog's resync and overflow, sync mode's
 * state, the link) and from {@link VolumeStateTracker} for sustained history growth.
 *
 * <p>What a site derives today ({@link VolumeStateTracker}): a primary is {@link #REPLICATING}
 * while the link is up and its history is not growing, {@link #BUFFERING} while the link is down or
 * its history keeps growing, {@link #DEGRADED} when its journal refuses writes or the shipper
 * reports the volume stalled, {@link #DISK_FULL} while a filesystem it writes is full; a standby is
 * {@link #REPLICATING}, {@link #DISCONNECTED} while no primary is connected, or {@link #DEGRADED}
 * when its applier failed. {@link #INITIAL_SYNC}, {@link #BITMAP}, {@link #RESYNCING} and {@link
 * #INCONSISTENT} are part of the contract (dashboards and alerts already know them) and are entered
 * once full sync, history overflow to a bitmap, and resync exist.
 */
public enum VolumeState {
  /** The standby receives a first full copy of the volume. */
  INITIAL_SYNC,
  /** Changes reach the standby about as fast as they are written. */
  REPLICATING,
  /**
   * Changes are kept in the primary's history faster than the standby takes them (or the link is
   * down).
   */
  BUFFERING,
  /**
   * Replication is impaired: a journal or apply failure, a stalled volume on the link, or a sync
   * volume acknowledging on its local journal alone after its standby stopped confirming.
   */
  DEGRADED,
  /**
   * A sync volume whose standby stopped confirming, with policy block: writes wait (fail closed).
   */
  BLOCKED,
  /** History overflowed; only a dirty-region bitmap is kept, a resync will be needed. */
  BITMAP,
  /** Dirty regions are being copied to the standby, out of order. */
  RESYNCING,
  /** The standby's replica is not a crash-consistent prefix of the primary (during resync). */
  INCONSISTENT,
  /**
   * A primary that may not acknowledge writes: it lost its lease evidence (self-fenced) or was
   * deposed.
   */
  FENCED,
  /**
   * A filesystem the volume needs (its journal, its volume file or replica) is full: a primary
   * refuses writes with ENOSPC, a standby's replica or journal waits. Every acknowledged write is
   * kept, and the volume resumes by itself once space returns.
   */
  DISK_FULL,
  /**
   * A standby that has lost its primary: nothing arrives, so its lag grows with the time since the
   * last contact and is never reported as 0 (see {@code VolumeStatus.PrimaryView}).
   */
  DISCONNECTED;

  private final String label = name().toLowerCase(Locale.ROOT).replace('_', '-');

  /**
   * The lower-case-hyphen name used in status, metrics labels and logs, e.g. {@code initial-sync}.
   */
  @JsonValue
  public String label() {
    return label;
  }

  @Override
  public String toString() {
    return label;
  }
}
