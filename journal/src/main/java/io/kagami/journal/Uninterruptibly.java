package io.kagami.journal;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/**
 * Waiting that an interrupt cannot cut short: the journal thread must not give up on a write or a
 * sync half-way.
 */
final class Uninterruptibly {
  private Uninterruptibly() {}

  /** {@link Future#get()}, retried through interrupts; the interrupt is restored afterwards. */
  static <T> T get(Future<T> f) throws ExecutionException {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return f.get();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
