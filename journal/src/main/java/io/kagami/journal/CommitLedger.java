package io.kagami.journal;

import java.util.ArrayDeque;
import java.util.Iterator;

/**
 * Byte and time accounting of the retained history at group-commit granularity: one point per
 * commit, so lag is exact at commit boundaries and never under-reported between them.
 *
 * <p>Thread-safe (one monitor): fed on the journal thread, asked by status and housekeeping.
 */
final class CommitLedger {
  private record Point(long seq, long cumulativeBytes, long millis) {}

  private final ArrayDeque<Point> points = new ArrayDeque<>();
  private Point base = new Point(0, 0, 0);
  private long pendingSeq;
  private long total;

  synchronized void reset(long baseSeq, long last, long bytes, long now) {
    points.clear();
    base = new Point(baseSeq, 0, now);
    total = bytes;
    pendingSeq = last;
    if (last > baseSeq) {
      points.add(new Point(last, bytes, now));
    }
  }

  synchronized void add(long seq, int bytes) {
    total += bytes;
    pendingSeq = seq;
  }

  synchronized void mark(long now) {
    Point lastPoint = points.peekLast();
    if (lastPoint == null || lastPoint.seq < pendingSeq) {
      points.add(new Point(pendingSeq, total, now));
    }
  }

  synchronized long bytesAfter(long seq) {
    Point lastPoint = points.peekLast();
    if (lastPoint == null || seq >= lastPoint.seq) {
      return 0;
    }
    long cum = base.cumulativeBytes;
    for (Point p : points) {
      if (p.seq > seq) {
        break;
      }
      cum = p.cumulativeBytes;
    }
    return lastPoint.cumulativeBytes - cum;
  }

  synchronized long oldestMillisAfter(long seq) {
    for (Point p : points) {
      if (p.seq > seq) {
        return p.millis;
      }
    }
    return -1;
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
