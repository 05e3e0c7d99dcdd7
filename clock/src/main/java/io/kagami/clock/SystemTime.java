package io.kagami.clock;

import java.time.Duration;
import java.time.InstantSource;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The one place that reads the machine's clocks and pauses a thread. Everything else takes a {@link
 * NanoClock} or an {@link InstantSource} (wall time) and waits on futures or conditions; the build
 * bans the raw APIs outside this class, so every read of time is a seam a test can replace.
 *
 * <p>{@link #pause} exists for the few waits that have no event to wait on (a test polling another
 * process over HTTP, a retry backoff); code with a future or a condition must wait on that instead.
 */
@SuppressForbidden
public final class SystemTime {
  /** The machine's monotonic clock. */
  public static final NanoClock NANO = System::nanoTime;

  /**
   * The machine's wall clock (UTC), for timestamps an operator reads, never for intervals. A test
   * may step it from outside the process ({@link SteppedWallClock}, system property {@code
   * kagami.clock.wallOffsetFile}).
   */
  public static final InstantSource WALL = SteppedWallClock.fromSystemProperty();

  private SystemTime() {}

  /**
   * Parks the calling thread for about {@code d} (less if interrupted; the interrupt flag stays
   * set). Never call it on an event loop or to wait for something that can signal completion.
   */
  public static void pause(Duration d) {
    long deadline = System.nanoTime() + d.toNanos();
    long left;
    while ((left = deadline - System.nanoTime()) > 0 && !Thread.currentThread().isInterrupted()) {
      LockSupport.parkNanos(left);
    }
  }

  /** {@link #pause(Duration)} in a unit. */
  public static void pause(long amount, TimeUnit unit) {
    pause(Duration.ofNanos(unit.toNanos(amount)));
  }
}
