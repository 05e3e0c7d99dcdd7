package io.kagami.failover;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;

/** A clock that moves only when the test says so. */
public final class FakeClock implements InstantSource {
  private Instant now;

  public FakeClock() {
    this(Instant.parse("2026-01-01T00:00:00Z"));
  }

  public FakeClock(Instant start) {
    this.now = start;
  }

  @Override
  public Instant instant() {
    return now;
  }

  public void advance(Duration d) {
    if (d.isNegative()) {
      throw new IllegalArgumentException("time does not run backwards: " + d);
    }
    now = now.plus(d);
  }

  public void advanceMillis(long ms) {
    advance(Duration.ofMillis(ms));
  }
}
