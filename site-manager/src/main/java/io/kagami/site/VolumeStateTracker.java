package io.kagami.site;

/**
 * Derives one volume's {@link VolumeState} from what a site observes on each housekeeping tick.
 * Pure (no clock, no I/O): a test feeds observations by hand.
 *
 * <p>History "growing" means it grew on {@link #GROWING_TICKS} observations in a row: a single
 * larger sample is normal under steady writes (a batch in flight), a sustained rise means the
 * standby is not keeping up. One observation without growth (draining or steady) ends it.
 *
 * <p>Not thread-safe for {@link #observe}: one housekeeping thread calls it; {@link #current()} may
 * be read from any thread.
 */
final class VolumeStateTracker {
  static final int GROWING_TICKS = 3;

  /** What a site sees of a volume at one moment. */
  record Observation(boolean primary, boolean linkUp, long historyBytes, boolean failed) {}

  private volatile VolumeState current;

  /**
   * The state last logged as a change (the site's live state, which also knows resync and sync
   * mode).
   */
  private VolumeState logged;

  private long lastHistory = -1;
  private volatile int growingFor;

  VolumeStateTracker(boolean primary) {
    current = primary ? VolumeState.BUFFERING : VolumeState.REPLICATING;
    logged = current;
  }

  VolumeState current() {
    return current;
  }

  /** True while history has grown on {@link #GROWING_TICKS} observations in a row. */
  boolean growing() {
    return growingFor >= GROWING_TICKS;
  }

  VolumeState logged() {
    return logged;
  }

  void logged(VolumeState state) {
    logged = state;
  }

  VolumeState observe(Observation o) {
    if (lastHistory >= 0 && o.historyBytes() > lastHistory) {
      growingFor++;
    } else {
      growingFor = 0;
    }
    lastHistory = o.historyBytes();
    VolumeState next;
    if (o.failed()) {
      next = VolumeState.DEGRADED;
    } else if (!o.primary()) {
      next = VolumeState.REPLICATING;
    } else if (!o.linkUp() || growingFor >= GROWING_TICKS) {
      next = VolumeState.BUFFERING;
    } else {
      next = VolumeState.REPLICATING;
    }
    current = next;
    return next;
  }
}
