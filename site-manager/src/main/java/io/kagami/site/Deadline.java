package io.kagami.site;

import io.kagami.clock.NanoClock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A point on a {@link NanoClock} that a role change must finish by, and the one way it waits:
 * {@link #await} on a future, never a polling loop. Immutable.
 */
record Deadline(NanoClock clock, long atNanos) {

  static Deadline after(NanoClock clock, Duration timeout) {
    return new Deadline(clock, clock.nanoTime() + timeout.toNanos());
  }

  /** Time left, at least 1 ms (a last look rather than no look at all). */
  Duration remaining() {
    return Duration.ofNanos(Math.max(1_000_000, atNanos - clock.nanoTime()));
  }

  /** This deadline or {@code cap} from now, whichever comes first. */
  Deadline within(Duration cap) {
    return new Deadline(clock, Math.min(atNanos, clock.nanoTime() + cap.toNanos()));
  }

  /** How {@link #await} ended. */
  enum Outcome {
    DONE,
    FAILED,
    TIMED_OUT
  }

  /**
   * Waits for {@code future} until the deadline. An interrupt ends the wait as {@link
   * Outcome#TIMED_OUT} with the interrupt flag kept, so the caller takes its timeout path.
   */
  Outcome await(CompletableFuture<?> future) {
    try {
      future.get(remaining().toNanos(), TimeUnit.NANOSECONDS);
      return Outcome.DONE;
    } catch (ExecutionException e) {
      return Outcome.FAILED;
    } catch (TimeoutException e) {
      return Outcome.TIMED_OUT;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Outcome.TIMED_OUT;
    }
  }
}
