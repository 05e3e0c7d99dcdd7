package io.kagami.wan.testing;

import io.kagami.journal.JournalEntry;
import io.kagami.wan.receive.ReceiveSink;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A standby volume's journal in memory. Stores complete on its own thread, in call order; it
 * enforces the {@link ReceiveSink} contract (duplicates skipped and counted, a gap fails) and can
 * hold a store back at a sequence number or fail one, for tests.
 */
public final class MemorySink implements ReceiveSink, AutoCloseable {
  private final String volume;
  private final long sizeBytes;
  private final ExecutorService executor;
  private final List<JournalEntry> stored = new ArrayList<>(); // guarded by this
  private final List<Long> storeFirstSeqs = new ArrayList<>(); // guarded by this
  private long durable; // guarded by this
  private long duplicates; // guarded by this
  private final Map<Long, CompletableFuture<Void>> waiters = new ConcurrentSkipListMap<>();
  private final AtomicReference<String> failNext = new AtomicReference<>();
  private volatile long holdAt = Long.MAX_VALUE;
  private final CompletableFuture<Long> held = new CompletableFuture<>();
  private final CompletableFuture<Void> release = new CompletableFuture<>();

  public MemorySink(String volume, long sizeBytes) {
    this.volume = volume;
    this.sizeBytes = sizeBytes;
    this.executor =
        Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("memory-sink-" + volume).daemon(true).factory());
  }

  @Override
  public String volume() {
    return volume;
  }

  @Override
  public long sizeBytes() {
    return sizeBytes;
  }

  public synchronized long lastDurableSeq() {
    return durable;
  }

  @Override
  public CompletableFuture<Resume> resume() {
    return CompletableFuture.supplyAsync(() -> Resume.at(lastDurableSeq()), executor);
  }

  @Override
  public CompletableFuture<Long> store(List<JournalEntry> entries) {
    List<JournalEntry> copy = List.copyOf(entries);
    return CompletableFuture.supplyAsync(() -> doStore(copy), executor);
  }

  private long doStore(List<JournalEntry> entries) {
    if (entries.get(entries.size() - 1).seq() >= holdAt) {
      held.complete(entries.get(0).seq());
      release.join();
    }
    String failure = failNext.getAndSet(null);
    if (failure != null) {
      throw new IllegalStateException(failure);
    }
    long now;
    synchronized (this) {
      storeFirstSeqs.add(entries.get(0).seq());
      for (JournalEntry e : entries) {
        if (e.seq() <= durable) {
          duplicates++;
          continue;
        }
        if (e.seq() != durable + 1) {
          throw new IllegalStateException(
              "volume "
                  + volume
                  + ": received seq "
                  + e.seq()
                  + " but expected "
                  + (durable + 1)
                  + " (gap)");
        }
        stored.add(e);
        durable = e.seq();
      }
      now = durable;
    }
    for (var w : waiters.entrySet()) {
      if (w.getKey() <= now) {
        w.getValue().complete(null);
      }
    }
    return now;
  }

  /**
   * Holds back the store that reaches {@code seq} until {@link #release()}; {@link #held()}
   * completes then.
   */
  public void holdAt(long seq) {
    holdAt = seq;
  }

  /** Completes with the first seq of the store held back. */
  public CompletableFuture<Long> held() {
    return held;
  }

  public void release() {
    release.complete(null);
  }

  /** The next store fails with {@code message} and stores nothing. */
  public void failNextStore(String message) {
    failNext.set(message);
  }

  public CompletableFuture<Void> awaitDurable(long seq) {
    CompletableFuture<Void> f = waiters.computeIfAbsent(seq, s -> new CompletableFuture<>());
    synchronized (this) {
      if (durable >= seq) {
        f.complete(null);
      }
    }
    return f;
  }

  public synchronized List<JournalEntry> stored() {
    return List.copyOf(stored);
  }

  /** First seq of every store call, in order. */
  public synchronized List<Long> storeFirstSeqs() {
    return List.copyOf(storeFirstSeqs);
  }

  /** Entries received again although already durable. */
  public synchronized long duplicates() {
    return duplicates;
  }

  @Override
  public void close() {
    release();
    executor.shutdownNow();
  }
}
