package io.kagami.clock;

/**
 * A monotonic clock in nanoseconds, for measuring elapsed time and deadlines (never for dates).
 * Components take one in their constructor so tests can drive time by hand; production code uses
 * {@link SystemTime#NANO}. Values are only meaningful relative to each other from one instance.
 */
@FunctionalInterface
public interface NanoClock {
  /** Nanoseconds from an arbitrary origin; never decreases. */
  long nanoTime();

  /** The system's monotonic clock ({@link System#nanoTime()}). */
  static NanoClock system() {
    return SystemTime.NANO;
  }

  /** Nanoseconds elapsed since {@code start}, a value this clock returned earlier. */
  default long nanosSince(long start) {
    return nanoTime() - start;
  }
}
