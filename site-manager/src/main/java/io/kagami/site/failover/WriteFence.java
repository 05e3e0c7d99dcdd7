package io.kagami.site.failover;

/**
 * The write gate of a site under automatic failover: whether a write may be acknowledged at this
 * instant. The {@link FailoverController} publishes the end of the primary's lease evidence as a
 * {@link System#nanoTime()} deadline, so writes stop exactly when the evidence runs out, not at the
 * controller's next tick; {@link FencedDevice} checks it for every write, before and after it.
 *
 * <p>Thread-safe: one volatile immutable state, written by the controller, read by I/O threads.
 */
public final class WriteFence {
  private record State(boolean unlimited, long untilNanos, String reason) {}

  private volatile State state;

  /** A fence that starts closed with {@code reason} (a primary has no lease evidence yet). */
  public WriteFence(String reason) {
    state = new State(false, System.nanoTime(), reason);
  }

  /** Writes allowed without a deadline (automatic failover off: no lease needed). */
  void openUnlimited() {
    state = new State(true, 0, null);
  }

  /** Writes allowed until {@code untilNanos} ({@link System#nanoTime()} scale); then fenced with {@code reason}. */
  void allowUntil(long untilNanos, String reasonAfter) {
    state = new State(false, untilNanos, reasonAfter);
  }

  /** No writes from now on, for {@code reason}. */
  void close(String reason) {
    state = new State(false, System.nanoTime(), reason);
  }

  /** Whether a write may be acknowledged now. */
  public boolean open() {
    State s = state;
    return s.unlimited() || System.nanoTime() - s.untilNanos() < 0;
  }

  /** Why writes are refused (meaningful while {@link #open()} is false). */
  public String reason() {
    State s = state;
    return s.reason() == null ? "fenced" : s.reason();
  }
}
