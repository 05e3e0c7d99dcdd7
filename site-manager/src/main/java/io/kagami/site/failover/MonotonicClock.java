package io.kagami.site.failover;

import io.kagami.clock.NanoClock;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;

/**
 * The failover policy's clock: a {@link NanoClock} anchored once to the wall clock at start. Lease
 * evidence and heartbeat silence are measured on it, so stepping the wall clock (NTP, an operator)
 * can neither extend a lease nor fake silence; the wall-clock anchor keeps instants of a later
 * process of the same site after those of an earlier one, so an echo of a heartbeat sent before a
 * restart never lies in the future. Thread-safe (immutable).
 */
final class MonotonicClock implements InstantSource {
  private final NanoClock nanos;
  private final Instant anchor;
  private final long anchorNanos;

  MonotonicClock(InstantSource wall, NanoClock nanos) {
    this.nanos = nanos;
    this.anchorNanos = nanos.nanoTime();
    this.anchor = wall.instant();
  }

  @Override
  public Instant instant() {
    return anchor.plusNanos(nanos.nanosSince(anchorNanos));
  }

  /** The monotonic clock this one runs on (the scale of {@link #nanoTimeOf}). */
  NanoClock nanos() {
    return nanos;
  }

  /** The {@link NanoClock} value at which this clock shows {@code t}. */
  long nanoTimeOf(Instant t) {
    return anchorNanos + Duration.between(anchor, t).toNanos();
  }
}
