package io.kagami.clock;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How often each key (a client's address, say) may do something, over time: a token bucket per key
 * that holds a burst of {@code burst} and earns one more every {@code refill}. The servers use it
 * to bound what a hostile or broken client can write to the log (NBD, WAN, admin and witness ports
 * each keep one), so the rule and its numbers live in one place.
 *
 * <p>Memory is bounded: at most {@code maxKeys} keys are remembered, the least recently seen
 * forgotten first, so an attacker with many addresses costs at most one burst each. Refusals are
 * counted in total ({@link #refused()}, for a metric) and per key since its last admission, which
 * {@link #admit} returns so the next admitted line can say how many were dropped.
 *
 * <p>Thread-safe: one short lock per call; reads time from the injected {@link NanoClock}.
 */
public final class KeyedRateLimit {
  private final NanoClock clock;
  private final long burst;
  private final long refillNanos;
  private final AtomicLong refused = new AtomicLong();
  private final Map<String, Bucket> buckets;

  public KeyedRateLimit(NanoClock clock, int burst, Duration refill, int maxKeys) {
    if (burst < 1 || refill.isNegative() || refill.isZero() || maxKeys < 1) {
      throw new IllegalArgumentException(
          "burst " + burst + ", refill " + refill + ", maxKeys " + maxKeys + ": each must be > 0");
    }
    this.clock = clock;
    this.burst = burst;
    this.refillNanos = refill.toNanos();
    this.buckets =
        new LinkedHashMap<>(64, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<String, Bucket> eldest) {
            return size() > maxKeys;
          }
        };
  }

  /** One key's state: tokens left, when the last token was added, refusals since the last admit. */
  private static final class Bucket {
    long tokens;
    long refilledAt;
    long refusedSince;

    Bucket(long tokens, long now) {
      this.tokens = tokens;
      this.refilledAt = now;
    }
  }

  /**
   * Takes a token for {@code key}: returns how many times the key was refused since it was last
   * admitted (0 usually), or -1 when it has none left (counted as refused).
   */
  public synchronized long admit(String key) {
    long now = clock.nanoTime();
    Bucket b = buckets.computeIfAbsent(key, k -> new Bucket(burst, now));
    long earned = (now - b.refilledAt) / refillNanos;
    if (earned > 0) {
      b.tokens = Math.min(burst, b.tokens + earned);
      b.refilledAt += earned * refillNanos;
    }
    if (b.tokens == 0) {
      b.refusedSince++;
      refused.incrementAndGet();
      return -1;
    }
    b.tokens--;
    long d = b.refusedSince;
    b.refusedSince = 0;
    return d;
  }

  /**
   * {@code line} with a note of the {@code dropped} lines about the same client address before it
   * (what {@link #admit} returned), when there were any: the one wording every server's log uses.
   */
  public static String noteDropped(String line, long dropped) {
    return dropped > 0
        ? line
            + " ("
            + dropped
            + " earlier line(s) about this client address dropped by the log limit)"
        : line;
  }

  /** Refusals since this limit was created, over every key. */
  public long refused() {
    return refused.get();
  }
}
