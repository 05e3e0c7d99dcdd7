package io.kagami.journal;

import java.util.Arrays;
import java.util.List;

/**
 * The newest committed entries, by sequence number, up to a byte budget. Readers that keep up with
 * the writer (the shipper, the standby's applier) are served from here; a reader that fell behind
 * the cache reads RocksDB. Entries are the arrays the journal committed (never modified).
 *
 * <p>Thread-safe (one monitor, held for array work only): filled on the journal thread, read by any
 * reader of the stream.
 */
final class TailCache {
  private final long budget;
  private JournalEntry[] ring = new JournalEntry[1024];
  private int head;
  private int count;
  private long bytes;

  TailCache(long budget) {
    this.budget = budget;
  }

  private JournalEntry at(int i) {
    return ring[(head + i) & (ring.length - 1)];
  }

  synchronized void add(long seq, byte[] value) {
    if (count > 0 && at(count - 1).seq() + 1 != seq) {
      Arrays.fill(ring, null);
      head = 0;
      count = 0;
      bytes = 0;
    }
    if (count == ring.length) {
      JournalEntry[] bigger = new JournalEntry[ring.length * 2];
      for (int i = 0; i < count; i++) {
        bigger[i] = at(i);
      }
      ring = bigger;
      head = 0;
    }
    ring[(head + count) & (ring.length - 1)] = new JournalEntry(seq, value);
    count++;
    bytes += value.length;
    // Down to nothing if need be: an entry larger than the whole budget is not kept (readers take
    // it from RocksDB); the budget is a share of the site's memory and holds for any entry size.
    while (bytes > budget && count > 0) {
      bytes -= ring[head].encoded().length;
      ring[head] = null;
      head = (head + 1) & (ring.length - 1);
      count--;
    }
  }

  /** Bytes of the entries held now. */
  synchronized long bytes() {
    return bytes;
  }

  synchronized void clear() {
    Arrays.fill(ring, null);
    head = 0;
    count = 0;
    bytes = 0;
  }

  /** Fills {@code out} from the cache if it holds {@code fromSeq}; false when it does not. */
  synchronized boolean read(long fromSeq, long last, int maxBytes, List<JournalEntry> out) {
    if (count == 0) {
      return false;
    }
    long first = ring[head].seq();
    if (fromSeq < first || fromSeq - first >= count) {
      return false;
    }
    long taken = 0;
    for (int i = (int) (fromSeq - first); i < count; i++) {
      JournalEntry e = at(i);
      if (e.seq() > last) {
        break;
      }
      out.add(e);
      taken += e.wireBytes();
      if (taken >= maxBytes) {
        break;
      }
    }
    return true;
  }
}
