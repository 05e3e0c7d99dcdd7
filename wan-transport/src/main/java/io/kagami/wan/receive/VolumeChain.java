package io.kagami.wan.receive;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The order of one peer's volume in storage, across that peer's connections: every storage step
 * (resume, store, resync step) for the volume is queued here, so a step starts only when the one
 * before completed, and a reconnecting primary's resume point is read only after the previous
 * connection's stores settled. Consecutive stores are the exception: a store starts as soon as the
 * previous store was <em>handed</em> to the sink, so one journal sync covers every batch that
 * arrived meanwhile (the journal keeps their order).
 *
 * <p>Threads: steps are queued from an event loop and started on the event loop passed in (the
 * connection's), also when the previous step completes on a storage thread; queuing takes this
 * object's monitor briefly and never waits for storage. {@link #durable} is read by any thread.
 */
final class VolumeChain {
  private final String peer;
  private final String volume;

  /** Completes when every step queued so far has completed; guarded by this. */
  private CompletableFuture<?> tail = CompletableFuture.completedFuture(null);

  /** Completes when every step queued so far has at least been started; guarded by this. */
  private CompletableFuture<?> started = tail;

  private volatile long durable = -1;
  private volatile ReceiveSession owner;

  VolumeChain(String peer, String volume) {
    this.peer = peer;
    this.volume = volume;
  }

  String peer() {
    return peer;
  }

  String volume() {
    return volume;
  }

  /** The highest seq known durable on this standby; -1 before the first WELCOME. */
  long durable() {
    return durable;
  }

  synchronized void durable(long seq) {
    if (seq > durable) {
      durable = seq;
    }
  }

  /** The connection that serves this volume now, or last did; null before any. */
  ReceiveSession owner() {
    return owner;
  }

  /**
   * A new connection takes the volume over: {@code resume} starts on {@code loop} once every step
   * queued before settled, failed or not (a failed store of the old connection is resent).
   */
  synchronized <T> CompletableFuture<T> takeOver(
      ReceiveSession session, Executor loop, Supplier<CompletableFuture<T>> resume) {
    owner = session;
    CompletableFuture<T> next =
        tail.handle((x, err) -> null).thenComposeAsync(x -> resume.get(), loop);
    tail = next;
    started = next;
    return next;
  }

  /**
   * Queues {@code step} behind everything queued; it starts on {@code loop} once the previous step
   * completed, unless {@code closed} says the connection ended by then (it fails with a
   * cancellation instead). Null when the connection has ended already.
   */
  synchronized <T> CompletableFuture<T> then(
      Executor loop, BooleanSupplier closed, Supplier<CompletableFuture<T>> step) {
    if (closed.getAsBoolean()) {
      return null;
    }
    CompletableFuture<T> next =
        tail.thenComposeAsync(
            x -> closed.getAsBoolean() ? CompletableFuture.<T>failedFuture(ended()) : step.get(),
            loop);
    tail = next;
    started = next;
    return next;
  }

  /**
   * Queues a BATCH store: started once the previous step was started (at once after another store,
   * which the journal queues in order), completed when it is durable. Null when the connection has
   * ended already.
   */
  synchronized CompletableFuture<Long> thenStore(
      Executor loop, BooleanSupplier closed, Supplier<CompletableFuture<Long>> store) {
    if (closed.getAsBoolean()) {
      return null;
    }
    // A chain of its own, one link per store, so stores start in exactly the order queued.
    CompletableFuture<CompletableFuture<Long>> start =
        started.thenApplyAsync(
            x ->
                closed.getAsBoolean() ? CompletableFuture.<Long>failedFuture(ended()) : store.get(),
            loop);
    CompletableFuture<Long> done = start.thenCompose(f -> f);
    started = start;
    tail = CompletableFuture.allOf(tail, done);
    return done;
  }

  /** Completes (never exceptionally) once every step queued so far has completed. */
  synchronized CompletableFuture<Void> settled() {
    return tail.handle((x, err) -> null);
  }

  private static CancellationException ended() {
    return new CancellationException("connection closed");
  }
}
