package io.kagami.replicator.history;

import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalRecord;
import io.kagami.replicator.history.UndoLog.Undo;
import io.kagami.replicator.volume.FileVolume;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.LongUnaryOperator;

/**
 * A standby volume's recent history: the retention window of before-images ({@link UndoLog}) that
 * lets the replica be seen ({@link #pin}, for a DR drill) or rolled back ({@link #rollback}, for
 * point-in-time promotion) at an earlier sequence number.
 *
 * <p>The applier hands every batch to {@link #apply}. While history is recorded (a retention window
 * is configured, or a drill pins a point) the batch is cut into runs of entries whose ranges do not
 * overlap; for each run the before-images are read from the replica, appended and forced, and only
 * then written into the replica. So a replica write is never on disk without its before-image,
 * whatever the page cache writes back when; the run's entries cannot see each other's writes since
 * they do not overlap. After a crash, the applier replays from its checkpoint: entries whose images
 * are committed are written again without capturing (their images are the true ones), the rest are
 * captured as if for the first time (their replica writes were never issued).
 *
 * <p>The state at seq N (within the window) of a byte is the before-image of the earliest record
 * after N that covers it, else the replica's current content.
 *
 * <p>Verification points (VERIFY, VERIFY_SUM) get no record: they change nothing, so the state at a
 * point is the state after the write before it, and the time index holds writes only. What a
 * recovery calls the time of its point ({@link #timeOf}) and what {@code --at} finds ({@link
 * #seqAt}) are then host writes, never a point journaled on an idle volume after its last write.
 *
 * <p>Thread-safety: {@link #apply}, {@link #pin} and {@link #rollback} run under the applier's lock
 * (see {@code Applier#paused}); the rest may run from any thread.
 */
public final class History implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(History.class.getName());
  static final int CHUNK = 1 << 20;
  private static final byte[] ZEROES = new byte[CHUNK];
  public static final long DEFAULT_SEGMENT_BYTES = 64L << 20;

  /** The longest retention window a standby accepts (its time index lives in memory). */
  public static final Duration MAX_WINDOW = Duration.ofDays(7);

  /**
   * How much history a standby keeps: entries journaled within {@code window} before now, at most
   * {@code maxBytes} of before-images (0: no byte cap). {@link #NONE} keeps none.
   */
  public record Retention(Duration window, long maxBytes) {
    public static final Retention NONE = new Retention(Duration.ZERO, 0);

    public Retention {
      if (window == null || window.isNegative() || maxBytes < 0) {
        throw new IllegalArgumentException(
            "retention: window must be zero or positive, maxBytes zero or positive");
      }
    }

    public boolean enabled() {
      return !window.isZero() || maxBytes > 0;
    }
  }

  /** The earliest point that can be recovered: a seq and when its successor was journaled. */
  public record Point(long seq, Instant time) {}

  private final String volume;
  private final Retention retention;
  private final InstantSource clock;
  private final UndoLog log;
  private final List<PointInTimeView> views = new CopyOnWriteArrayList<>();

  public History(
      String volume,
      Path directory,
      Retention retention,
      InstantSource clock,
      long segmentBytes,
      long journalLastSeq) {
    this.volume = volume;
    this.retention = retention;
    this.clock = clock;
    this.log = UndoLog.open(directory, segmentBytes);
    // Without retention, history left from before a restart is dropped by the first trim, not
    // here: an interrupted point-in-time rollback may still need it (see the site's Rollback).
    if (retention.enabled() && log.coverageFrom() == Long.MAX_VALUE) {
      // Entries the journal holds may be in the replica already (unsynced before a restart): their
      // before-images cannot be known, so history starts after all of them.
      log.restartAt(journalLastSeq);
    }
  }

  public Retention retention() {
    return retention;
  }

  /** True while before-images are captured (retention on, or a view pinned). */
  public synchronized boolean recording() {
    return retention.enabled() || !views.isEmpty();
  }

  /**
   * Applies {@code entries} (consecutive, in order) to {@code replica}, capturing before-images
   * first while history is recorded. {@code millisOf} says when an entry was journaled here.
   */
  public synchronized void apply(
      List<JournalEntry> entries, FileVolume replica, LongUnaryOperator millisOf)
      throws IOException {
    if (!recording()) {
      for (JournalEntry e : entries) {
        replica.apply(e.record());
      }
      return;
    }
    List<JournalRecord> run = new ArrayList<>();
    List<Long> runSeqs = new ArrayList<>();
    TreeMap<Long, Long> ranges = new TreeMap<>();
    long committed = log.committedSeq();
    for (JournalEntry e : entries) {
      JournalRecord r = e.record();
      if (e.seq() <= committed) {
        replica.apply(r); // replay after a restart: the image is durable already
        continue;
      }
      if (r.kind().verification()) {
        continue; // changes nothing: no image, no time (see the class comment)
      }
      long start = r.offset();
      long end = start + r.length();
      if (overlaps(ranges, start, end)) {
        flush(run, runSeqs, replica, millisOf);
        ranges.clear();
      }
      run.add(r);
      runSeqs.add(e.seq());
      if (end > start) {
        ranges.put(start, end);
      }
    }
    flush(run, runSeqs, replica, millisOf);
  }

  private static boolean overlaps(TreeMap<Long, Long> ranges, long start, long end) {
    if (end <= start) {
      return false;
    }
    Map.Entry<Long, Long> floor = ranges.floorEntry(start);
    if (floor != null && floor.getValue() > start) {
      return true;
    }
    Long next = ranges.higherKey(start);
    return next != null && next < end;
  }

  private void flush(
      List<JournalRecord> run, List<Long> seqs, FileVolume replica, LongUnaryOperator millisOf)
      throws IOException {
    if (run.isEmpty()) {
      return;
    }
    for (int i = 0; i < run.size(); i++) {
      capture(seqs.get(i), millisOf.applyAsLong(seqs.get(i)), run.get(i), replica);
    }
    List<Undo> committed = log.commit(seqs.getLast());
    for (PointInTimeView v : views) {
      for (Undo u : committed) {
        v.cover(u); // before the replica changes: see PointInTimeView
      }
    }
    for (JournalRecord r : run) {
      replica.apply(r);
    }
    run.clear();
    seqs.clear();
  }

  private void capture(long seq, long millis, JournalRecord r, FileVolume replica)
      throws IOException {
    long pos = r.offset();
    long end = pos + r.length();
    if (end == pos) {
      log.add(seq, millis, pos, 0, null); // every entry has a record: its time maps to its seq
      return;
    }
    while (pos < end) {
      int n = (int) Math.min(CHUNK, end - pos);
      byte[] image = new byte[n];
      replica.read(pos, ByteBuffer.wrap(image));
      boolean zero = Arrays.mismatch(image, 0, n, ZEROES, 0, n) < 0;
      log.add(seq, millis, pos, n, zero ? null : image);
      pos += n;
    }
  }

  /**
   * A view of the replica at {@code seq}, kept current as the applier moves on until {@link
   * #unpin}; its records are kept whatever the retention. Call with the applier paused at {@code
   * appliedSeq}. Refused outside the window.
   */
  public synchronized PointInTimeView pin(long seq, long appliedSeq) {
    check(seq, appliedSeq);
    if (!recording()) {
      log.restartAt(appliedSeq); // seq == appliedSeq: record from here on
    }
    PointInTimeView v = new PointInTimeView(seq);
    for (Undo u : log.after(seq)) {
      v.cover(u);
    }
    views.add(v);
    return v;
  }

  public synchronized void unpin(PointInTimeView view) {
    views.remove(view);
    trim();
  }

  /** Refuses {@code seq} outside the recoverable window, saying what the window is. */
  public synchronized void check(long seq, long appliedSeq) {
    if (seq > appliedSeq) {
      throw new OutsideWindowException(
          "volume "
              + volume
              + ": seq "
              + seq
              + " is not applied yet (the replica is at seq "
              + appliedSeq
              + ")");
    }
    long from = recording() ? log.coverageFrom() : appliedSeq;
    if (seq < from) {
      throw new OutsideWindowException(
          "volume "
              + volume
              + ": seq "
              + seq
              + " is outside the retained history, which covers seq "
              + from
              + " to "
              + appliedSeq
              + window(from)
              + (retention.enabled()
                  ? ""
                  : " (no retention is configured: only the current point; set retention on the volume)"));
    }
  }

  private String window(long from) {
    Point p = recoverableFrom(from);
    return p == null ? "" : " (from " + p.time() + ")";
  }

  /**
   * The last write journaled at or before {@code time} ({@code appliedSeq} for a time not in the
   * past); refused before the window.
   */
  public synchronized long seqAt(Instant time, long appliedSeq) {
    long millis = time.toEpochMilli();
    if (millis >= clock.millis()) {
      return appliedSeq;
    }
    long from = recording() ? log.coverageFrom() : appliedSeq;
    long found = log.lastSeqAtOrBefore(millis);
    if (found >= 0 && found >= from) {
      return Math.min(found, appliedSeq);
    }
    throw new OutsideWindowException(
        "volume "
            + volume
            + ": "
            + time
            + " is outside the retained history, which covers seq "
            + from
            + " to "
            + appliedSeq
            + window(from));
  }

  /**
   * When the write at {@code seq} (or, if history holds no record of it, the newest one before it:
   * for a verification point, the write whose state it shows) was journaled on this site; null when
   * history holds none at or before it. What a recovery report calls the time of its point.
   */
  public synchronized Instant timeOf(long seq) {
    UndoLog.Undo u = log.lastAtOrBefore(seq);
    return u == null ? null : Instant.ofEpochMilli(u.millis());
  }

  /** The earliest recoverable point, or null when history is not recorded. */
  public synchronized Point recoverableFrom(long appliedSeq) {
    if (!recording()) {
      return null;
    }
    long from = log.coverageFrom();
    if (from == Long.MAX_VALUE) {
      return null;
    }
    Undo first = log.firstAfter(from);
    long millis = first == null ? clock.millis() : first.millis();
    return new Point(Math.min(from, appliedSeq), Instant.ofEpochMilli(millis));
  }

  /**
   * Rolls {@code replica} back to its state at {@code seq}: the before-images after {@code seq} are
   * written newest first, so each byte ends with the image of the earliest record covering it; the
   * replica is then forced. Idempotent: a run cut short by a crash is simply run again (the records
   * are not changed by it). Call with the applier stopped.
   */
  public synchronized void rollback(long seq, FileVolume replica) throws IOException {
    List<Undo> later = log.after(seq);
    byte[] buf = new byte[CHUNK];
    for (int i = later.size() - 1; i >= 0; i--) {
      Undo u = later.get(i);
      if (u.length() == 0) {
        continue;
      }
      if (u.zeros()) {
        replica.zero(u.offset(), u.length());
      } else {
        ByteBuffer b = ByteBuffer.wrap(buf, 0, u.length());
        UndoLog.read(u, 0, b);
        b.flip();
        replica.write(u.offset(), b);
      }
    }
    replica.force();
  }

  /** Drops all history (after a point-in-time promotion: the replica is a primary's volume now). */
  public synchronized void clear() {
    views.clear();
    log.clear();
  }

  /**
   * A resync rewrote the replica outside the journal: history before {@code base} is void, and so
   * is every pinned view (its reads fail from now on, see {@link PointInTimeView#invalidate}).
   */
  public synchronized void reset(long base) {
    if (!views.isEmpty()) {
      LOG.log(
          Level.WARNING,
          "volume {0}: a resync replaces the replica under a running drill: the drill''s view is void, its reads and writes fail (EIO) until it is stopped",
          volume);
      for (PointInTimeView v : views) {
        v.invalidate(
            "a resync rewrote the replica from seq "
                + base
                + " on (the primary's history had overflowed, or the standby had lost what it acknowledged); stop the drill and start a new one once the volume is consistent");
      }
    }
    if (recording()) {
      log.restartAt(base);
    }
  }

  /**
   * Drops the oldest history beyond the window or the byte cap, keeping what pinned views need.
   * Returns the bytes freed.
   */
  public synchronized long trim() {
    long pin = Long.MAX_VALUE;
    for (PointInTimeView v : views) {
      pin = Math.min(pin, v.seq());
    }
    if (!recording()) {
      if (log.recordCount() > 0 || log.coverageFrom() != Long.MAX_VALUE) {
        long bytes = log.bytes();
        log.clear();
        return bytes;
      }
      return 0;
    }
    long cutoff =
        retention.window().isZero()
            ? Long.MAX_VALUE
            : clock.millis() - retention.window().toMillis();
    long cap = retention.maxBytes();
    boolean byTime = !retention.window().isZero();
    return log.trim(
        pin,
        (lastSeq, lastMillis, total) ->
            !retention.enabled() || (byTime && lastMillis < cutoff) || (cap > 0 && total > cap));
  }

  /** Bytes of before-images held. */
  public long bytes() {
    return log.bytes();
  }

  public int views() {
    return views.size();
  }

  @Override
  public void close() {
    log.close();
  }

  /** A seq or time the retained history cannot reach; the message gives the window. */
  public static final class OutsideWindowException extends RuntimeException {
    public OutsideWindowException(String message) {
      super(message);
    }
  }
}
