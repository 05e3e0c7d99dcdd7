package io.kagami.replicator.verify;

import io.kagami.clock.NanoClock;
import io.kagami.journal.VerifyPoint;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A primary volume's side of in-stream verification: walks the volume region by region, placing a
 * verification point for each (see {@link VerifyPoint}), at a configured rate of region bytes per
 * second; a pass covers the volume once, then the next begins. {@link #passNow} starts a pass from
 * offset 0 at once (at least at the on-demand rate while the continuous rate is 0).
 *
 * <p>Pacing is a token bucket on region bytes refilled by the elapsed time on the injected clock,
 * holding at most one second's worth; at most {@link #MAX_IN_FLIGHT} points await their checksum,
 * so a volume file that cannot keep up is never flooded. {@link #doWork} is what a scheduler (or a
 * test) calls; it never blocks: placing a point is a journal append.
 *
 * <p>Threads: {@link #doWork} from one thread at a time (the site's housekeeping); {@link #passNow}
 * and {@link #snapshot} from any.
 */
public final class VerifyPacer {
  /** Region size: a checksum over 1 MiB takes well under a millisecond. */
  public static final int REGION_BYTES = 1 << 20;

  static final int MAX_IN_FLIGHT = 64;

  /** What the admin surface shows of the primary's side. */
  public record Snapshot(long pass, long nextOffset, long pointsPlaced, long rateBytesPerSecond) {}

  private final long sizeBytes;
  private final long rate;
  private final long onDemandRate;
  private final NanoClock clock;
  private final AtomicInteger inFlight = new AtomicInteger();

  private long lastNanos;
  private double tokens;
  private long pass = 1;
  private long offset;
  private boolean onDemand;
  private volatile boolean passRequested;
  private volatile Snapshot snapshot;

  /**
   * @param rate region bytes per second of the continuous passes; 0: only passes on demand
   * @param onDemandRate the rate of a pass started by {@link #passNow} while {@code rate} is 0
   */
  public VerifyPacer(long sizeBytes, long rate, long onDemandRate, NanoClock clock) {
    if (rate < 0 || onDemandRate <= 0 || sizeBytes <= 0) {
      throw new IllegalArgumentException("verification rate " + rate + "/" + onDemandRate);
    }
    this.sizeBytes = sizeBytes;
    this.rate = rate;
    this.onDemandRate = onDemandRate;
    this.clock = clock;
    this.lastNanos = clock.nanoTime();
    this.snapshot = new Snapshot(pass, 0, 0, rate);
  }

  /**
   * Starts a pass from offset 0 at the next {@link #doWork}; returns its number (unless a pass ends
   * meanwhile).
   */
  public long passNow() {
    passRequested = true;
    Snapshot s = snapshot;
    return s.nextOffset() > 0 ? s.pass() + 1 : s.pass();
  }

  /** The rate a pass runs at: the continuous rate, or the on-demand rate while that is 0. */
  public long passRate() {
    return rate > 0 ? rate : onDemandRate;
  }

  /**
   * Places the points the elapsed time allows through {@code place} (e.g. {@code
   * PrimaryVolume::verify}, through the export's fence), whose future completes once the point's
   * checksum was appended (or given up); returns how many.
   */
  public int doWork(Function<VerifyPoint.Mark, CompletableFuture<?>> place) {
    long now = clock.nanoTime();
    long elapsed = Math.max(0, now - lastNanos);
    lastNanos = now;
    if (passRequested) {
      passRequested = false;
      if (offset > 0) {
        pass++;
        offset = 0;
      }
      onDemand = true;
      tokens = Math.max(tokens, REGION_BYTES);
    }
    long r = rate > 0 ? rate : onDemand ? onDemandRate : 0;
    if (r == 0) {
      tokens = 0;
      return 0;
    }
    tokens = Math.min(Math.max(r, REGION_BYTES), tokens + r * (elapsed / 1e9));
    int placed = 0;
    while (tokens >= Math.min(REGION_BYTES, sizeBytes - offset) && inFlight.get() < MAX_IN_FLIGHT) {
      int length = (int) Math.min(REGION_BYTES, sizeBytes - offset);
      boolean last = offset + length >= sizeBytes;
      inFlight.incrementAndGet();
      CompletableFuture<?> f;
      try {
        f = place.apply(new VerifyPoint.Mark(offset, length, pass, last));
      } catch (RuntimeException e) {
        inFlight.decrementAndGet();
        throw e;
      }
      f.whenComplete((v, err) -> inFlight.decrementAndGet());
      tokens -= length;
      placed++;
      if (last) {
        pass++;
        offset = 0;
        onDemand = false;
        if (rate == 0) {
          break;
        }
      } else {
        offset += length;
      }
    }
    snapshot = new Snapshot(pass, offset, snapshot.pointsPlaced() + placed, rate);
    return placed;
  }

  public Snapshot snapshot() {
    return snapshot;
  }
}
