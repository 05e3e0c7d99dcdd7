package io.kagami.replicator.nbd;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The payload bytes that all NBD connections of a server may have with their devices at once: one
 * share of the site's memory budget. A connection takes from it before handing a READ or WRITE to
 * its device and gives back when the device answers.
 *
 * <p>Back-pressure, not failure: when the share is full {@link #tryAcquire} says no, the connection
 * keeps the request queued, stops reading its socket and registers to be woken; every {@link
 * #release} wakes the waiting connections, which retry on their own event loops. A request larger
 * than what is left is admitted only when nothing at all is in flight (so any single request fits):
 * the share is overdrawn by at most one request, never by one per connection.
 *
 * <p>Thread-safe: acquired on event loops, released on event loops, waiters woken through their
 * loops' executors (never run here).
 */
public final class InFlightShare {
  private final long limitBytes;
  private final AtomicLong used = new AtomicLong();
  private final AtomicLong waits = new AtomicLong();
  private final Object lock = new Object();
  private List<Runnable> waiting = new ArrayList<>();

  /** {@code limitBytes}: the share; at least 1. */
  public InFlightShare(long limitBytes) {
    if (limitBytes < 1) {
      throw new IllegalArgumentException(
          "NBD in-flight share must be at least 1 byte, got " + limitBytes);
    }
    this.limitBytes = limitBytes;
  }

  /** No limit: each connection's own bound applies alone (a server without a site's budget). */
  public static InFlightShare unlimited() {
    return new InFlightShare(Long.MAX_VALUE);
  }

  /**
   * Takes {@code bytes} when they fit, or when nothing is in flight; otherwise false and {@code
   * wake} runs once after the next release.
   */
  boolean tryAcquire(long bytes, Runnable wake) {
    if (bytes == 0) {
      return true;
    }
    while (true) {
      long now = used.get();
      if (now > 0 && now + bytes > limitBytes) {
        synchronized (lock) {
          // Re-check under the lock: a release between the read and here would miss this waiter.
          long again = used.get();
          if (again > 0 && again + bytes > limitBytes) {
            waiting.add(wake);
            waits.incrementAndGet();
            return false;
          }
        }
        continue;
      }
      if (used.compareAndSet(now, now + bytes)) {
        return true;
      }
    }
  }

  void release(long bytes) {
    if (bytes == 0) {
      return;
    }
    used.addAndGet(-bytes);
    List<Runnable> woken;
    synchronized (lock) {
      if (waiting.isEmpty()) {
        return;
      }
      woken = waiting;
      waiting = new ArrayList<>();
    }
    for (Runnable r : woken) {
      r.run();
    }
  }

  /** The share, in bytes. */
  public long limitBytes() {
    return limitBytes;
  }

  /** Payload bytes with the devices now. */
  public long usedBytes() {
    return used.get();
  }

  /** How many times a request had to wait for the share (back-pressure events). */
  public long waits() {
    return waits.get();
  }
}
