package io.kagami.journal;

import io.kagami.clock.NanoClock;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ReadOptions;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.RocksIterator;
import org.rocksdb.Slice;

/**
 * One volume's ordered history in the journal.
 *
 * <p>Guarantees: sequence numbers are assigned without gaps in the order {@link #append} is called;
 * an entry is visible to {@link #read} only once committed; {@link #lastSeq()} never goes back,
 * even after every entry has been trimmed (the trim point is persisted).
 *
 * <p>One role: append, commit, read and trim all move the same sequence space under one lock; split
 * apart, each half would have to see the other's half-committed state.
 */
public final class JournalStream {
  private static final String META_TRIMMED = "trimmedThrough";

  /** Highest seq whose segment data was forced to disk (pointers above it are checked on open). */
  static final String META_SEGMENTS_FORCED = "segmentsForcedThrough";

  private final String volume;
  private final Journal journal;
  private final RocksDB db;
  private final ColumnFamilyHandle family;
  private final GroupCommitter committer;
  private final InstantSource clock;
  private final NanoClock nanos;
  private final List<Runnable> commitListeners = new CopyOnWriteArrayList<>();
  private final CommitLedger ledger = new CommitLedger();

  /**
   * Recent history kept in memory (a share of the site's memory budget): the shipper and the
   * applier read the tail, not RocksDB.
   */
  private final TailCache tail;

  private final SegmentLog segments;

  /** Next sequence number to assign; guarded by the committer's lock. */
  private long nextSeq;

  private volatile long lastSeq;
  private volatile long firstSeq;

  /** See {@link #lastWriteSeq()}. */
  private volatile long lastWriteSeq;

  JournalStream(
      String volume,
      Journal journal,
      RocksDB db,
      ColumnFamilyHandle family,
      GroupCommitter committer,
      SegmentLog segments,
      InstantSource clock,
      NanoClock nanos,
      long tailCacheBytes) {
    this.tail = new TailCache(tailCacheBytes);
    this.volume = volume;
    this.journal = journal;
    this.db = db;
    this.family = family;
    this.committer = committer;
    this.segments = segments;
    this.clock = clock;
    this.nanos = nanos;
    long trimmed = journal.meta(volume, META_TRIMMED, 0);
    long forced = journal.meta(volume, META_SEGMENTS_FORCED, 0);
    long first = 0;
    long last = 0;
    long bytes = 0;
    long writeBytes = 0;
    long lastWrite = -1;
    long cutFrom = 0;
    try (RocksIterator it = db.newIterator(family)) {
      // Entries at or below the persisted trim point may survive a crash between persisting the
      // trim point and the range delete; they are history nobody needs, and their segments may be
      // gone already.
      it.seek(Keys.encode(trimmed + 1));
      for (; it.isValid(); it.next()) {
        long seq = Keys.decode(it.key());
        byte[] value = it.value();
        if (SegmentPointer.is(value) && !segments.recover(value, seq, seq > forced)) {
          if (seq <= forced) {
            throw new JournalException(
                "volume "
                    + volume
                    + ": journal segment data of seq "
                    + seq
                    + " is missing or short, although it was made durable;"
                    + " the journal directory is damaged (restore it, or remove it to resynchronize from the peer)");
          }
          cutFrom = seq;
          break;
        }
        if (first == 0) {
          first = seq;
        }
        last = seq;
        int length = SegmentPointer.recordLength(value);
        bytes += length;
        if (changesData(value)) {
          writeBytes += length;
          lastWrite = seq;
        }
      }
    }
    try {
      if (trimmed > 0 && hasEntriesThrough(db, family, trimmed)) {
        db.deleteRange(family, Keys.encode(0), Keys.encode(trimmed + 1));
      }
      if (cutFrom > 0) {
        // Unsynced entries whose payload did not reach the disk before a power loss: the history
        // ends before the first of them (nothing after it was ever acknowledged as durable).
        System.getLogger(JournalStream.class.getName())
            .log(
                System.Logger.Level.WARNING,
                "volume {0}: journal history cut at seq {1}: segment data of unsynced writes was lost (power loss?)",
                volume,
                cutFrom);
        db.deleteRange(family, Keys.encode(cutFrom), Keys.encode(Long.MAX_VALUE));
      }
    } catch (RocksDBException e) {
      throw new JournalException(
          "volume " + volume + ": cannot clean up journal history on open: " + e.getMessage(),
          e,
          Journal.isNoSpace(e));
    }
    segments.dropUnreferenced();
    this.lastSeq = Math.max(last, trimmed);
    this.firstSeq = first == 0 ? lastSeq + 1 : first;
    this.nextSeq = lastSeq + 1;
    // No write retained: the newest one is at or before the trim point (see lastWriteSeq()).
    this.lastWriteSeq = lastWrite < 0 ? firstSeq - 1 : lastWrite;
    ledger.reset(
        firstSeq - 1, lastSeq, bytes, writeBytes, lastWriteSeq, clock.millis(), nanos.nanoTime());
  }

  /**
   * Whether a stored value (a record, or a pointer to one in a segment) changes the volume: only
   * records of at least {@link SegmentLog#MIN_SEGMENT_RECORD_BYTES} go to segments, and those are
   * writes; a verification point is a few dozen bytes, always inline.
   */
  private static boolean changesData(byte[] value) {
    if (SegmentPointer.is(value)) {
      return true;
    }
    try {
      return JournalRecord.changesData(value);
    } catch (MalformedRecordException e) {
      return true; // counted as a write (never hides lag); reading it fails where it always did
    }
  }

  private static boolean hasEntriesThrough(RocksDB db, ColumnFamilyHandle family, long seq) {
    try (RocksIterator it = db.newIterator(family)) {
      it.seekToFirst();
      return it.isValid() && Keys.decode(it.key()) <= seq;
    }
  }

  public String volume() {
    return volume;
  }

  ColumnFamilyHandle family() {
    return family;
  }

  SegmentLog segments() {
    return segments;
  }

  /** Highest committed sequence number, 0 for a stream that never had an entry. */
  public long lastSeq() {
    return lastSeq;
  }

  /**
   * The newest committed entry that changes the volume (a host write, trim or zeroing): every entry
   * after it, through {@link #lastSeq()}, is a verification point, so the volume's content is what
   * it was after this one. When the history that held the newest write is trimmed, the trim point
   * (a seq at or after that write with the same property); 0 for a stream that never had one.
   */
  public long lastWriteSeq() {
    return lastWriteSeq;
  }

  /** Lowest retained sequence number; {@code lastSeq() + 1} when nothing is retained. */
  public long firstSeq() {
    return firstSeq;
  }

  /**
   * Appends {@code record} under the next sequence number. {@code after} runs once the record is
   * committed, in sequence order, right after the future completed (see {@link AfterCommit}): the
   * primary uses it to write the local volume in exactly the journal's order. With {@code sync} the
   * future completes only after the WAL is synced (FUA).
   */
  public CompletableFuture<Long> append(JournalRecord record, boolean sync, AfterCommit after) {
    return appendEncoded(record.encode(), sync, after);
  }

  /** {@link #append} of a record already encoded (e.g. by {@link Compression#encodeWrite}). */
  public CompletableFuture<Long> appendEncoded(byte[] value, boolean sync, AfterCommit after) {
    CompletableFuture<Long> done = new CompletableFuture<>();
    committer.lock().lock();
    try {
      committer.enqueueLocked(new GroupCommitter.Op(this, nextSeq, value, sync, after, done));
      if (!done.isDone()) {
        nextSeq++;
      }
    } finally {
      committer.lock().unlock();
    }
    return done;
  }

  /**
   * Stores entries received from the primary under their own sequence numbers, durably. Entries at
   * or below what this stream already holds are skipped (a resumed stream may repeat some); a gap
   * fails. Completes with the stream's last sequence number.
   */
  public CompletableFuture<Long> appendReplicated(List<JournalEntry> entries) {
    CompletableFuture<Long> last = null;
    committer.lock().lock();
    try {
      for (JournalEntry e : entries) {
        if (e.seq() < nextSeq) {
          continue;
        }
        if (e.seq() != nextSeq) {
          return CompletableFuture.failedFuture(
              new JournalException(
                  "volume "
                      + volume
                      + ": received seq "
                      + e.seq()
                      + " but expected "
                      + nextSeq
                      + " (history has a gap)"));
        }
        last = new CompletableFuture<>();
        committer.enqueueLocked(
            new GroupCommitter.Op(this, e.seq(), e.encoded(), true, null, last));
        if (last.isCompletedExceptionally()) {
          return last;
        }
        nextSeq++;
      }
      if (last == null) {
        // Everything was a duplicate: it is durable once whatever is queued before it is.
        last = new CompletableFuture<>();
        committer.enqueueLocked(new GroupCommitter.Op(this, 0, null, true, null, last));
        return last.thenApply(ignored -> lastSeq);
      }
    } finally {
      committer.lock().unlock();
    }
    return last;
  }

  /** Completes once everything appended before this call is durable (NBD FLUSH). */
  public CompletableFuture<Long> sync() {
    CompletableFuture<Long> done = new CompletableFuture<>();
    committer.lock().lock();
    try {
      committer.enqueueLocked(new GroupCommitter.Op(this, 0, null, true, null, done));
    } finally {
      committer.lock().unlock();
    }
    return done.thenApply(ignored -> lastSeq);
  }

  /**
   * Committed entries from {@code fromSeq} on, in order, up to about {@code maxBytes} (at least one
   * entry when there is one). Fails when {@code fromSeq} has been trimmed already.
   */
  public List<JournalEntry> read(long fromSeq, int maxBytes) {
    long last = lastSeq;
    List<JournalEntry> out = new ArrayList<>();
    if (!retained(fromSeq, last) || tail.read(fromSeq, last, maxBytes, out)) {
      return out;
    }
    final class Taken {
      long bytes;
    }
    Taken taken = new Taken();
    scan(
        fromSeq,
        last,
        (seq, value) -> {
          JournalEntry e =
              new JournalEntry(seq, SegmentPointer.is(value) ? segments.load(value, seq) : value);
          out.add(e);
          taken.bytes += e.wireBytes();
          return taken.bytes < maxBytes;
        });
    return out;
  }

  /** Where an entry's change lands on the volume: what a changed-region map needs of it. */
  public record Extent(long seq, JournalRecord.Kind kind, long offset, int length) {
    static Extent of(long seq, byte[] encoded) {
      JournalRecord.Header h = JournalRecord.header(encoded);
      return new Extent(seq, h.kind(), h.offset(), h.length());
    }
  }

  /**
   * Like {@link #read}, but only where each entry's change lands, up to {@code maxEntries}: entries
   * in segments cost a read of their 16-byte header instead of the whole payload (when history
   * overflows into the changed-region map, housekeeping read every 1 MiB record in full for those
   * 16 bytes). Headers are not checksummed on their own; they are what this journal wrote, or
   * checked on open.
   */
  public List<Extent> readExtents(long fromSeq, int maxEntries) {
    long last = Math.min(lastSeq, fromSeq + maxEntries - 1);
    List<Extent> out = new ArrayList<>();
    if (!retained(fromSeq, last)) {
      return out;
    }
    List<JournalEntry> cached = new ArrayList<>();
    if (tail.read(fromSeq, last, Integer.MAX_VALUE, cached)) {
      for (JournalEntry e : cached) {
        out.add(Extent.of(e.seq(), e.encoded()));
      }
      return out;
    }
    scan(
        fromSeq,
        last,
        (seq, value) -> {
          out.add(
              Extent.of(
                  seq,
                  SegmentPointer.is(value)
                      ? segments.loadPrefix(value, seq, JournalRecord.HEADER_BYTES)
                      : value));
          return true;
        });
    return out;
  }

  /**
   * False when there is nothing from {@code fromSeq} on; fails when it has been trimmed already.
   */
  private boolean retained(long fromSeq, long last) {
    if (fromSeq > last) {
      return false;
    }
    if (fromSeq < firstSeq) {
      throw new JournalException(
          "volume "
              + volume
              + ": seq "
              + fromSeq
              + " is no longer in the journal (oldest retained is "
              + firstSeq
              + ")");
    }
    return true;
  }

  private interface StoredVisitor {
    /** One stored value (a record or a segment pointer); false stops the scan. */
    boolean visit(long seq, byte[] value);
  }

  /**
   * Visits the stored values of seqs {@code fromSeq..toSeq} in RocksDB, in order; fails on a gap.
   */
  private void scan(long fromSeq, long toSeq, StoredVisitor visitor) {
    long expect = fromSeq;
    try (Slice upper = new Slice(Keys.encode(toSeq + 1));
        ReadOptions ro = new ReadOptions().setIterateUpperBound(upper);
        RocksIterator it = db.newIterator(family, ro)) {
      for (it.seek(Keys.encode(fromSeq)); it.isValid(); it.next()) {
        long seq = Keys.decode(it.key());
        if (seq != expect) {
          throw new JournalException(
              "volume " + volume + ": journal has a gap at seq " + expect + " (found " + seq + ")");
        }
        expect++;
        if (!visitor.visit(seq, it.value())) {
          break;
        }
      }
      try {
        it.status();
      } catch (RocksDBException e) {
        throw new JournalException(
            "volume " + volume + ": journal read failed: " + e.getMessage(), e, false);
      }
    }
  }

  /** Drops history through {@code seq} (inclusive); the caller guarantees nobody needs it. */
  public void trimThrough(long seq) {
    long upTo = Math.min(seq, lastSeq);
    if (upTo < firstSeq) {
      return;
    }
    journal.putMeta(volume, META_TRIMMED, upTo);
    try {
      db.deleteRange(family, Keys.encode(firstSeq), Keys.encode(upTo + 1));
    } catch (RocksDBException e) {
      throw new JournalException(
          "volume " + volume + ": trimming history failed: " + e.getMessage(),
          e,
          Journal.isNoSpace(e));
    }
    firstSeq = upTo + 1;
    ledger.forget(upTo);
    segments.trimThrough(upTo);
  }

  /**
   * Continues this stream's history at {@code base}: everything retained is dropped and the next
   * entry expected is {@code base + 1}. A standby does this when a resynchronization replaces the
   * history up to {@code base} with region copies. The caller guarantees nothing is being appended
   * to this stream meanwhile.
   */
  public void rebase(long base) {
    committer.lock().lock();
    try {
      if (base < lastSeq) {
        throw new JournalException(
            "volume "
                + volume
                + ": cannot rebase history to seq "
                + base
                + ", it already holds seq "
                + lastSeq);
      }
      if (nextSeq != lastSeq + 1) {
        throw new JournalException(
            "volume " + volume + ": cannot rebase history while appends are in flight");
      }
      journal.putMeta(volume, META_TRIMMED, base);
      try {
        db.deleteRange(family, Keys.encode(0), Keys.encode(base + 1));
      } catch (RocksDBException e) {
        throw new JournalException(
            "volume " + volume + ": rebasing history failed: " + e.getMessage(),
            e,
            Journal.isNoSpace(e));
      }
      segments.trimThrough(base);
      lastSeq = base;
      firstSeq = base + 1;
      nextSeq = base + 1;
      lastWriteSeq = base;
      ledger.reset(base, base, 0, 0, base, clock.millis(), nanos.nanoTime());
    } finally {
      committer.lock().unlock();
    }
  }

  /**
   * Drops every entry after {@code seq}, so the history continues at {@code seq + 1} with other
   * entries: an old primary rejoining as a standby does this with its writes after the fork (saved
   * aside first), a point-in-time promotion after rolling its replica back to {@code seq}.
   * Idempotent (a run cut short by a crash is repeated); the caller guarantees nothing is being
   * appended meanwhile. Segment data of dropped entries stays until its segment is trimmed.
   */
  public void truncateAfter(long seq) {
    committer.lock().lock();
    try {
      if (nextSeq != lastSeq + 1) {
        throw new JournalException(
            "volume " + volume + ": cannot truncate history while appends are in flight");
      }
      if (seq >= lastSeq) {
        return;
      }
      // Lower the persisted points first: a crash half-way leaves a shorter, still valid history.
      if (journal.meta(volume, META_TRIMMED, 0) > seq) {
        journal.putMeta(volume, META_TRIMMED, seq);
      }
      if (journal.meta(volume, META_SEGMENTS_FORCED, 0) > seq) {
        journal.putMeta(volume, META_SEGMENTS_FORCED, seq);
      }
      try {
        db.deleteRange(family, Keys.encode(seq + 1), Keys.encode(Long.MAX_VALUE));
      } catch (RocksDBException e) {
        throw new JournalException(
            "volume "
                + volume
                + ": truncating history after seq "
                + seq
                + " failed: "
                + e.getMessage(),
            e,
            Journal.isNoSpace(e));
      }
      long first = 0;
      long bytes = 0;
      long writeBytes = 0;
      long lastWrite = -1;
      try (RocksIterator it = db.newIterator(family)) {
        for (it.seek(Keys.encode(journal.meta(volume, META_TRIMMED, 0) + 1));
            it.isValid();
            it.next()) {
          long at = Keys.decode(it.key());
          if (first == 0) {
            first = at;
          }
          byte[] value = it.value();
          int length = SegmentPointer.recordLength(value);
          bytes += length;
          if (changesData(value)) {
            writeBytes += length;
            lastWrite = at;
          }
        }
      }
      tail.clear();
      lastSeq = seq;
      firstSeq = first == 0 ? seq + 1 : first;
      nextSeq = seq + 1;
      lastWriteSeq = lastWrite < 0 ? firstSeq - 1 : lastWrite;
      ledger.reset(
          firstSeq - 1, lastSeq, bytes, writeBytes, lastWriteSeq, clock.millis(), nanos.nanoTime());
    } finally {
      committer.lock().unlock();
    }
  }

  /** Bytes this stream's in-memory tail of recent entries holds now. */
  public long tailCacheBytes() {
    return tail.bytes();
  }

  /** A durable per-volume counter (applied sequence, peer acknowledgement...). */
  public long meta(String key, long absent) {
    return journal.meta(volume, key, absent);
  }

  public void putMeta(String key, long value) {
    journal.putMeta(volume, key, value);
  }

  /**
   * Runs {@code listener} on the journal thread after each group commit that added entries here.
   */
  public void onCommit(Runnable listener) {
    commitListeners.add(listener);
  }

  /**
   * Journaled bytes (encoded records) after {@code seq}: the lag behind a reader at {@code seq}.
   */
  public long bytesAfter(long seq) {
    return ledger.bytesAfter(seq);
  }

  /** Wall-clock time of the oldest commit after {@code seq}, or -1 when nothing is after it. */
  public long oldestMillisAfter(long seq) {
    return ledger.oldestMillisAfter(seq);
  }

  /**
   * Journaled bytes of writes after {@code seq} (verification points left out): the lag a reader at
   * {@code seq} has in host writes; 0 when only points follow it.
   */
  public long writeBytesAfter(long seq) {
    return ledger.writeBytesAfter(seq);
  }

  /**
   * Wall-clock time of the commit of the oldest write after {@code seq}, or -1 when no write is
   * after it (verification points are not writes): the age of the lag.
   */
  public long oldestWriteMillisAfter(long seq) {
    return ledger.oldestWriteMillisAfter(seq);
  }

  /**
   * How many milliseconds ago, on the monotonic clock, the oldest write after {@code seq} was
   * committed, or -1 when no write is after it: the age of the lag behind a reader at {@code seq}.
   * Unlike a difference of wall-clock times, a step of the wall clock never changes it. Writes
   * journaled before this stream was opened count from its opening.
   */
  public long writeLagAgeMillis(long seq) {
    long age = ledger.writeAgeNanosAfter(seq, nanos.nanoTime());
    return age < 0 ? -1 : age / 1_000_000;
  }

  /**
   * Why the journal refuses appends for lack of space (its filesystem is down to the reserve), or
   * null. Unlike {@link #failure()} this passes: the next append after space returns is admitted.
   */
  public String diskFull() {
    return committer.spaceRefusal();
  }

  /** Failure that made the journal refuse appends, or null. */
  public JournalException failure() {
    return committer.failure();
  }

  /**
   * Journal thread, under the committer's lock, after a group failed for lack of space: the
   * sequence numbers given to appends that were not committed are given out again.
   */
  void abandonUncommitted() {
    nextSeq = lastSeq + 1;
  }

  // Called on the journal thread, in order.
  void committed(long seq, byte[] value) {
    tail.add(seq, value);
    boolean write = changesData(value);
    ledger.add(seq, value.length, write);
    if (write) {
      lastWriteSeq = seq;
    }
    lastSeq = seq;
  }

  void groupCommitted() {
    ledger.mark(clock.millis(), nanos.nanoTime());
    for (Runnable r : commitListeners) {
      r.run();
    }
  }
}
