package io.kagami.wan.throttle;

import io.kagami.clock.NanoClock;

/**
 * A token bucket on bytes: tokens accrue at {@code rate} bytes per second up to {@code burst};
 * sending is allowed while the balance is positive and a send takes its whole size, possibly into
 * debt. So a frame is never split or held back for being larger than the bucket, yet over any
 * interval {@code T} at most {@code burst + rate·T + one frame} leave, and the long-run average is
 * exactly {@code rate}: the debt of a large frame is paid by waiting before the next one.
 *
 * <p>The answer to "may I send?" is a value ({@link #nanosUntilSend()}), never a sleep: the caller
 * waits on its own terms (the shipper's agent waits on its wake-up condition, so a rate change or
 * close cuts the wait short). Time comes from an injected nanosecond clock ({@link
 * io.kagami.clock.SystemTime#NANO} in production). A rate of 0 means unlimited. Thread-safe: the
 * shipper's agent consumes while an operator changes the rate from the admin thread.
 */
public final class TokenBucket {
  /** The smallest burst: a few TLS records, so a slow link still moves whole batches smoothly. */
  public static final long MIN_BURST_BYTES = 64 << 10;

  private static final double NANOS_PER_SECOND = 1e9;

  private final NanoClock nanoClock;
  private long rate; // bytes per second; 0 = unlimited
  private long burst;
  private double tokens;
  private long lastNanos;

  /**
   * A bucket at {@code rate} bytes/s (0 = unlimited) with the {@linkplain #defaultBurst default
   * burst}, starting full.
   */
  public TokenBucket(NanoClock nanoClock, long rate) {
    this(nanoClock, rate, defaultBurst(rate));
  }

  public TokenBucket(NanoClock nanoClock, long rate, long burst) {
    this.nanoClock = nanoClock;
    this.lastNanos = nanoClock.nanoTime();
    set(rate, burst);
    this.tokens = burst;
  }

  /**
   * A tenth of a second's worth, at least {@link #MIN_BURST_BYTES}: short bursts, smooth pacing.
   */
  public static long defaultBurst(long rate) {
    return Math.max(MIN_BURST_BYTES, rate / 10);
  }

  /** Changes the rate (0 = unlimited) with the default burst; takes effect for the next send. */
  public synchronized void setRate(long rate) {
    setRate(rate, defaultBurst(rate));
  }

  public synchronized void setRate(long rate, long burst) {
    refill();
    boolean wasUnlimited = this.rate == 0;
    set(rate, burst);
    // From unlimited, start full (as a new bucket would); otherwise keep the balance, debt
    // included,
    // so switching rates back and forth cannot mint bytes.
    tokens = wasUnlimited ? burst : Math.min(tokens, burst);
  }

  private void set(long rate, long burst) {
    if (rate < 0 || burst < 1) {
      throw new IllegalArgumentException(
          "a bandwidth cap needs a rate >= 0 (0 = unlimited) and a burst >= 1 byte, not "
              + rate
              + " B/s, burst "
              + burst);
    }
    this.rate = rate;
    this.burst = burst;
  }

  /** The cap in bytes per second; 0 = unlimited. */
  public synchronized long rate() {
    return rate;
  }

  public synchronized long burst() {
    return burst;
  }

  /** 0 when a send may go now; otherwise how long until the balance is positive again. */
  public synchronized long nanosUntilSend() {
    if (rate == 0) {
      return 0;
    }
    refill();
    if (tokens > 0) {
      return 0;
    }
    // +1 so that after the wait the balance is positive, not exactly zero.
    return Math.max(1, (long) Math.ceil((1 - tokens) * NANOS_PER_SECOND / rate));
  }

  /** Takes {@code bytes} that were just put on the wire; the balance may go negative. */
  public synchronized void consume(long bytes) {
    if (rate == 0) {
      return;
    }
    refill();
    tokens -= bytes;
  }

  private void refill() {
    long now = nanoClock.nanoTime();
    long elapsed = now - lastNanos;
    lastNanos = now;
    if (elapsed > 0 && rate > 0) {
      tokens = Math.min(burst, tokens + elapsed * (rate / NANOS_PER_SECOND));
    }
  }
}
