package io.kagami.site;

import io.kagami.clock.NanoClock;
import io.kagami.replicator.volume.PrimaryVolume;
import java.lang.System.Logger.Level;

/**
 * At shutdown, before a primary volume's file closes: waits, bounded by the shutdown's deadline,
 * for the volume writer to put every journaled change of this device into the file, and says what
 * it waited for and what it abandoned.
 *
 * <p>Abandoning is safe: a change is acknowledged to the host only once it is in the journal, and
 * the next start replays the journal onto the volume file (crash recovery), so an acknowledged
 * write the file did not get is written then. A write still in flight and not yet journaled was
 * never acknowledged; the host must retry it, as after any disconnect.
 *
 * <p>{@link #retire()}: a role change turned the volume into a standby after the file caught up (it
 * checks that itself), so nothing is left for this device. Without it, a site that went primary →
 * standby → primary kept the first device's drain on the stack, waiting at shutdown for journal
 * entries only the applier writes, until its old 30 s timeout (issue #16: a 45 s SIGTERM after a
 * switchover round trip).
 *
 * <p>Thread-safe: {@link #retire} on the role change's thread, {@link #close} on the closing one.
 */
final class VolumeDrain {
  private static final System.Logger LOG = System.getLogger(VolumeDrain.class.getName());

  /** At most this long, even when the shutdown's deadline is further away. */
  static final java.time.Duration PATIENCE = java.time.Duration.ofSeconds(3);

  private final String volume;
  private final PrimaryVolume device;
  private final NanoClock clock;
  private volatile boolean retired;

  VolumeDrain(String volume, PrimaryVolume device, NanoClock clock) {
    this.volume = volume;
    this.device = device;
    this.clock = clock;
  }

  /** The device is no longer the volume's primary and its file caught up: nothing to wait for. */
  void retire() {
    retired = true;
  }

  /** Waits until {@code deadline} at most; logs the outcome when it had to wait or gave up. */
  void close(Deadline deadline) {
    if (retired) {
      return;
    }
    long target = device.stream().lastSeq();
    if (device.appliedSeq() >= target) {
      return;
    }
    long start = clock.nanoTime();
    Deadline.Outcome outcome = deadline.within(PATIENCE).await(device.appliedThrough(target));
    long waitedMs = clock.nanosSince(start) / 1_000_000;
    switch (outcome) {
      case DONE ->
          LOG.log(
              Level.INFO,
              "volume {0}: waited {1} ms at shutdown for the volume file to reach seq {2}",
              volume,
              Long.toString(waitedMs),
              Long.toString(target));
      case FAILED, TIMED_OUT ->
          LOG.log(
              Level.WARNING,
              "volume {0}: shutdown stopped waiting for the volume file after {1} ms ({2}): it holds"
                  + " changes through seq {3} of {4}; the rest is acknowledged and durable in the"
                  + " journal, which replays it onto the volume file at the next start",
              volume,
              Long.toString(waitedMs),
              outcome == Deadline.Outcome.FAILED ? "writing it failed" : "deadline reached",
              Long.toString(device.appliedSeq()),
              Long.toString(target));
    }
  }
}
