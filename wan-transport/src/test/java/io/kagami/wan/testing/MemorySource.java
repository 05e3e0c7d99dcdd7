package io.kagami.wan.testing;

import io.kagami.journal.JournalEntry;
import io.kagami.wan.ship.ShipSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A primary volume's journal in memory, as the shipper sees it. Records every {@link #peerDurable}
 * call, so tests can check it never goes back and never claims more than was journaled.
 */
public final class MemorySource implements ShipSource {
  private final String volume;
  private final long sizeBytes;
  private final List<JournalEntry> entries =
      new ArrayList<>(); // guarded by this; seq = firstSeq + index
  private long firstSeq = 1; // guarded by this
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
  private final List<Long> peerDurableCalls = new CopyOnWriteArrayList<>();
  private final Map<Long, CompletableFuture<Void>> waiters = new ConcurrentSkipListMap<>();
  private volatile long peerDurable;

  public MemorySource(String volume, long sizeBytes) {
    this.volume = volume;
    this.sizeBytes = sizeBytes;
  }

  @Override
  public String volume() {
    return volume;
  }

  @Override
  public long sizeBytes() {
    return sizeBytes;
  }

  @Override
  public synchronized long lastSeq() {
    return firstSeq + entries.size() - 1;
  }

  /** Journals records (encoded) as one group, then wakes the listeners once. */
  public List<JournalEntry> append(List<byte[]> records) {
    List<JournalEntry> added = new ArrayList<>();
    synchronized (this) {
      for (byte[] r : records) {
        JournalEntry e = new JournalEntry(firstSeq + entries.size(), r);
        entries.add(e);
        added.add(e);
      }
    }
    for (Runnable l : listeners) {
      l.run();
    }
    return added;
  }

  public JournalEntry append(byte[] record) {
    return append(List.of(record)).get(0);
  }

  /** Forgets everything through {@code seq}, as a journal trims acknowledged history. */
  public synchronized void trimThrough(long seq) {
    while (firstSeq <= seq && !entries.isEmpty()) {
      entries.remove(0);
      firstSeq++;
    }
  }

  /** A trimmed journal here answers from its oldest entry: the shipper must notice the hole. */
  @Override
  public synchronized List<JournalEntry> read(long fromSeq, int maxBytes) {
    List<JournalEntry> out = new ArrayList<>();
    long bytes = 0;
    for (int i = (int) Math.max(0, fromSeq - firstSeq); i < entries.size(); i++) {
      JournalEntry e = entries.get(i);
      if (!out.isEmpty() && bytes + e.wireBytes() > maxBytes) {
        break;
      }
      out.add(e);
      bytes += e.wireBytes();
    }
    return out;
  }

  public synchronized List<JournalEntry> entries() {
    return List.copyOf(entries);
  }

  @Override
  public void peerDurable(long seq) {
    peerDurableCalls.add(seq);
    synchronized (this) {
      if (seq > peerDurable) {
        peerDurable = seq;
      }
    }
    for (var w : waiters.entrySet()) {
      if (w.getKey() <= seq) {
        w.getValue().complete(null);
      }
    }
  }

  @Override
  public void onAppend(Runnable wakeup) {
    listeners.add(wakeup);
  }

  public long peerDurable() {
    return peerDurable;
  }

  public List<Long> peerDurableCalls() {
    return List.copyOf(peerDurableCalls);
  }

  /** Completes once the shipper reported the standby durable through {@code seq}. */
  public CompletableFuture<Void> awaitPeerDurable(long seq) {
    CompletableFuture<Void> f = waiters.computeIfAbsent(seq, s -> new CompletableFuture<>());
    if (peerDurable >= seq) {
      f.complete(null);
    }
    return f;
  }
}
