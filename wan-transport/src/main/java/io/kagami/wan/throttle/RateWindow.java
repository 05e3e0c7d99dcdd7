package io.kagami.wan.throttle;

import io.kagami.clock.NanoClock;
import java.time.Duration;

/**
 * Bytes per second over a sliding window of whole seconds: what a status page calls the "recent"
 * send rate. Counts go into one-second slots; the rate is the sum of the completed slots inside the
 * window divided by their span (shorter right after creation, so a fresh link is not reported at a
 * fraction of its real rate). The current, incomplete second is left out: it would make the figure
 * jump with every batch. Thread-safe; {@code record} is one synchronized add.
 */
public final class RateWindow {
  private static final long SECOND = 1_000_000_000L;

  private final NanoClock nanoClock;
  private final long origin;
  private final long[] counts;
  private final long[] slotOf; // which absolute second each ring position currently holds

  public RateWindow(NanoClock nanoClock, Duration window) {
    int seconds = (int) Math.max(1, window.toSeconds());
    this.nanoClock = nanoClock;
    this.origin = nanoClock.nanoTime();
    this.counts = new long[seconds + 1];
    this.slotOf = new long[seconds + 1];
    java.util.Arrays.fill(slotOf, -1);
  }

  public synchronized void record(long bytes) {
    long slot = slot();
    int i = (int) (slot % counts.length);
    if (slotOf[i] != slot) {
      slotOf[i] = slot;
      counts[i] = 0;
    }
    counts[i] += bytes;
  }

  /**
   * Average bytes per second over the completed seconds of the window; 0 before the first one ends.
   */
  public synchronized double bytesPerSecond() {
    long current = slot();
    int span = (int) Math.min(counts.length - 1, current);
    if (span == 0) {
      return 0;
    }
    long sum = 0;
    for (int i = 0; i < counts.length; i++) {
      if (slotOf[i] >= current - span && slotOf[i] < current) {
        sum += counts[i];
      }
    }
    return (double) sum / span;
  }

  private long slot() {
    return Math.max(0, nanoClock.nanoTime() - origin) / SECOND;
  }
}
