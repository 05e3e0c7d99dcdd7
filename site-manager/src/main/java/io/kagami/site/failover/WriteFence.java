package io.kagami.site.failover;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;

/**
 * The write gate of a site under automatic failover: whether a write may be acknowledged at this
 * instant. The {@link PolicyDriver} publishes the end of the primary's lease evidence as a {@link
 * NanoClock} deadline, so writes stop exactly when the evidence runs out, not at the driver's next
 * tick; {@link FencedDevice} checks it for every write, before and after it.
 *
 * <p>Thread-safe: one volatile immutable state, written by the policy driver, read by I/O threads.
 */
public final class WriteFence {
  private record State(boolean unlimited, long untilNanos, String reason) {}

  private final NanoClock clock;
  private volatile State state;

  /** A fence on the machine's monotonic clock that starts closed with {@code reason}. */
  public WriteFence(String reason) {
    this(reason, SystemTime.NANO);
  }

  /**
   * A fence that starts closed with {@code reason} (a primary has no lease evidence yet); its
   * deadlines are on {@code clock}, the one the failover policy's clock runs on.
   */
  public WriteFence(String reason, NanoClock clock) {
    this.clock = clock;
    state = new State(false, clock.nanoTime(), reason);
  }

  /** Writes allowed without a deadline (automatic failover off: no lease needed). */
  void openUnlimited() {
    state = new State(true, 0, null);
  }

  /**
   * Writes allowed until {@code untilNanos} (on this fence's {@link NanoClock}); then fenced with
   * {@code reason}.
   */
  void allowUntil(long untilNanos, String reasonAfter) {
    state = new State(false, untilNanos, reasonAfter);
  }

  /** No writes from now on, for {@code reason}. */
  void close(String reason) {
    state = new State(false, clock.nanoTime(), reason);
  }

  /** Whether a write may be acknowledged now. */
  public boolean open() {
    State s = state;
    return s.unlimited() || clock.nanoTime() - s.untilNanos() < 0;
  }

  /** Why writes are refused (meaningful while {@link #open()} is false). */
  public String reason() {
    State s = state;
    return s.reason() == null ? "fenced" : s.reason();
  }
}
