package io.kagami.wan.ship;

import java.time.Duration;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The shipper agent's wake-up: journal appends, ACKs, REGIONS_DURABLE, REGION_WANTED, writability
 * changes, a new bandwidth cap and {@link #close()} {@linkplain #signal() signal} it from any
 * thread; the agent waits on it instead of sleeping, for at most as long as its own timers (batch
 * delay, token bucket, retry) allow. A signal given while the agent is busy is remembered, so the
 * next wait returns at once and no wake-up is lost.
 *
 * <p>Only the agent thread waits; signalling never blocks beyond taking this lock, which guards
 * nothing but the flag, so an event loop may signal.
 */
final class WakeSignal {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private boolean signalled; // guarded by lock
  private volatile boolean closed;

  /** Wakes the agent, or makes its next {@link #awaitWork} return at once. Any thread. */
  void signal() {
    lock.lock();
    try {
      signalled = true;
      wake.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Wakes the agent for good: every wait returns at once from now on. Any thread. */
  void close() {
    closed = true;
    signal();
  }

  boolean closed() {
    return closed;
  }

  /** Agent: waits up to {@code nanos} for a signal; consumes it. */
  void awaitWork(long nanos) throws InterruptedException {
    lock.lock();
    try {
      if (!signalled && !closed && nanos > 0) {
        wake.awaitNanos(nanos);
      }
      signalled = false;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Agent: a reconnect delay, cut short only by {@link #close()}: journal appends and other signals
   * must not turn a backoff into a busy reconnect loop.
   */
  void awaitBackoff(Duration d) throws InterruptedException {
    lock.lock();
    try {
      long left = d.toNanos();
      while (!closed && left > 0) {
        left = wake.awaitNanos(left);
      }
      signalled = false;
    } finally {
      lock.unlock();
    }
  }
}
