package io.kagami.journal;

import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * Byte and time accounting of the retained history at group-commit granularity: one point per
 * commit, so lag is exact at commit boundaries and never under-reported between them.
 *
 * <p>Writes are counted apart from verification points (see {@link VerifyPoint}): lag and its age
 * mean host writes the other side lacks, and a point changes nothing, so an idle volume whose
 * history grows only by points shows no lag ({@link #writeBytesAfter}, {@link
 * #oldestWriteMillisAfter}); {@link #bytesAfter} counts every record (what the history holds).
 *
 * <p>Each commit carries two times: the wall clock's (the history's time index: what a point in
 * time names) and the monotonic clock's (how old a lag is). A wall clock stepped by an operator or
 * NTP moves the first and never the second, so a step never shows as lag.
 *
 * <p>Thread-safe (one monitor): fed on the journal thread, asked by status and housekeeping.
 */
final class CommitLedger {
  /**
   * One group commit: through {@code seq}, the cumulative bytes of all records and of writes, the
   * newest write at or before {@code seq}, and when the group committed: wall-clock {@code millis},
   * monotonic {@code nanos}.
   */
  private record Point(
      long seq,
      long cumulativeBytes,
      long cumulativeWriteBytes,
      long lastWriteSeq,
      long millis,
      long nanos) {}

  private final ArrayDeque<Point> points = new ArrayDeque<>();
  private Point base = new Point(0, 0, 0, 0, 0, 0);
  private long pendingSeq;
  private long total;
  private long writeTotal;
  private long lastWriteSeq;

  /**
   * Starts afresh after {@code baseSeq}, holding {@code last} with {@code bytes} of records, {@code
   * writeBytes} of them writes, the newest write at {@code lastWrite}; all of it counts as
   * committed now (wall {@code now}, monotonic {@code nowNanos}).
   */
  synchronized void reset(
      long baseSeq,
      long last,
      long bytes,
      long writeBytes,
      long lastWrite,
      long now,
      long nowNanos) {
    points.clear();
    base = new Point(baseSeq, 0, 0, Math.min(lastWrite, baseSeq), now, nowNanos);
    total = bytes;
    writeTotal = writeBytes;
    pendingSeq = last;
    lastWriteSeq = lastWrite;
    if (last > baseSeq) {
      points.add(new Point(last, bytes, writeBytes, lastWrite, now, nowNanos));
    }
  }

  /** Record {@code seq} of {@code bytes} committed; {@code write}: it changes the volume. */
  synchronized void add(long seq, int bytes, boolean write) {
    total += bytes;
    pendingSeq = seq;
    if (write) {
      writeTotal += bytes;
      lastWriteSeq = seq;
    }
  }

  synchronized void mark(long now, long nowNanos) {
    Point lastPoint = points.peekLast();
    if (lastPoint == null || lastPoint.seq < pendingSeq) {
      points.add(new Point(pendingSeq, total, writeTotal, lastWriteSeq, now, nowNanos));
    }
  }

  synchronized long bytesAfter(long seq) {
    Point lastPoint = points.peekLast();
    if (lastPoint == null || seq >= lastPoint.seq) {
      return 0;
    }
    return lastPoint.cumulativeBytes - atOrBefore(seq).cumulativeBytes;
  }

  /** Bytes of writes after {@code seq}: 0 when only verification points follow it. */
  synchronized long writeBytesAfter(long seq) {
    Point lastPoint = points.peekLast();
    if (lastPoint == null || seq >= lastPoint.lastWriteSeq) {
      return 0;
    }
    return lastPoint.cumulativeWriteBytes - atOrBefore(seq).cumulativeWriteBytes;
  }

  /** The newest point at or before {@code seq}, or the base. */
  private Point atOrBefore(long seq) {
    Point at = base;
    for (Point p : points) {
      if (p.seq > seq) {
        break;
      }
      at = p;
    }
    return at;
  }

  synchronized long oldestMillisAfter(long seq) {
    for (Point p : points) {
      if (p.seq > seq) {
        return p.millis;
      }
    }
    return -1;
  }

  /**
   * When the first write after {@code seq} was committed (the commit that holds it: the first whose
   * newest write is past {@code seq}), or -1 when only verification points, or nothing, follow.
   */
  synchronized long oldestWriteMillisAfter(long seq) {
    Point p = oldestWriteAfter(seq);
    return p == null ? -1 : p.millis;
  }

  /**
   * How long ago, at monotonic {@code nowNanos}, the first write after {@code seq} was committed;
   * -1 when only verification points, or nothing, follow.
   */
  synchronized long writeAgeNanosAfter(long seq, long nowNanos) {
    Point p = oldestWriteAfter(seq);
    return p == null ? -1 : Math.max(0, nowNanos - p.nanos);
  }

  private Point oldestWriteAfter(long seq) {
    for (Point p : points) {
      if (p.lastWriteSeq > seq) {
        return p;
      }
    }
    return null;
  }

  synchronized void forget(long seq) {
    Iterator<Point> it = points.iterator();
    while (it.hasNext()) {
      Point p = it.next();
      if (p.seq > seq) {
        break;
      }
      base = p;
      it.remove();
    }
  }
}
