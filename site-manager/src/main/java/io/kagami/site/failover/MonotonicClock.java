package io.kagami.site.failover;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;

/**
 * The failover policy's clock: {@link System#nanoTime()} anchored once to the wall clock at start.
 * Lease evidence and heartbeat silence are measured on it, so stepping the wall clock (NTP, an
 * operator) can neither extend a lease nor fake silence; the wall-clock anchor keeps instants of
 * a later process of the same site after those of an earlier one, so an echo of a heartbeat sent
 * before a restart never lies in the future.
 */
final class MonotonicClock implements InstantSource {
  private final Instant anchor;
  private final long anchorNanos;

  MonotonicClock(InstantSource wall) {
    this.anchorNanos = System.nanoTime();
    this.anchor = wall.instant();
  }

  @Override
  public Instant instant() {
    return anchor.plusNanos(System.nanoTime() - anchorNanos);
  }

  /** The {@link System#nanoTime()} value at which this clock shows {@code t}. */
  long nanoTimeOf(Instant t) {
    return anchorNanos + Duration.between(anchor, t).toNanos();
  }
}
