package io.kagami.replicator.history;

import io.kagami.replicator.history.UndoLog.Undo;
import io.kagami.replicator.volume.FileVolume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The replica as it was at sequence number {@link #seq()}, while the applier keeps moving the
 * replica on: a byte reads from the before-image of the earliest undo record after {@code seq} that
 * covers it, else from the replica itself.
 *
 * <p>The map from volume ranges to those earliest records is built once from the records held when
 * the view is made, then extended by {@link History} with every new batch <em>before</em> the
 * batch's writes reach the replica. A read therefore reads the replica first and consults the map
 * second: a range the applier overwrote after the replica read is found in the map, and a range
 * missing from the map was not overwritten before the read. Thread-safe.
 */
public final class PointInTimeView {
  private final long seq;

  /** Non-overlapping pieces by start offset: [start, end) reads from {@code undo}. */
  private final TreeMap<Long, Piece> pieces = new TreeMap<>();

  private record Piece(long start, long end, Undo undo) {}

  /** Why the view can no longer show the replica at {@link #seq()}, or null while it can. */
  private volatile String voided;

  PointInTimeView(long seq) {
    this.seq = seq;
  }

  /** The sequence number this view shows the replica at. */
  public long seq() {
    return seq;
  }

  /** Records {@code u} where no earlier record after {@link #seq()} covers its range yet. */
  synchronized void cover(Undo u) {
    if (u.seq() <= seq || u.length() == 0) {
      return;
    }
    long pos = u.offset();
    long end = u.end();
    while (pos < end) {
      Map.Entry<Long, Piece> floor = pieces.floorEntry(pos);
      if (floor != null && floor.getValue().end() > pos) {
        pos = floor.getValue().end();
        continue;
      }
      Long next = pieces.higherKey(pos);
      long gapEnd = next == null ? end : Math.min(end, next);
      pieces.put(pos, new Piece(pos, gapEnd, u));
      pos = gapEnd;
    }
  }

  /**
   * From now on every read fails with {@code reason}: the replica changed in a way no before-image
   * records (a resync writes regions outside the journal). Failing is the point: a view that mixed
   * the frozen state with the new one would show the drill a volume that never existed.
   */
  void invalidate(String reason) {
    voided = reason;
  }

  /** Why reads fail, or null while the view is good. */
  public String voided() {
    return voided;
  }

  /** Reads {@code dst.remaining()} bytes at {@code offset} as they were at {@link #seq()}. */
  public void read(FileVolume replica, long offset, ByteBuffer dst) throws IOException {
    String v = voided;
    if (v != null) {
      throw new IOException("the view of seq " + seq + " is void: " + v);
    }
    int length = dst.remaining();
    int base = dst.position();
    replica.read(offset, dst.duplicate());
    for (Piece p : overlapping(offset, offset + length)) {
      long from = Math.max(p.start(), offset);
      long to = Math.min(p.end(), offset + length);
      ByteBuffer slice = dst.duplicate();
      slice.position(base + (int) (from - offset)).limit(base + (int) (to - offset));
      UndoLog.read(p.undo(), from - p.undo().offset(), slice);
    }
    dst.position(base + length);
  }

  private synchronized List<Piece> overlapping(long start, long end) {
    List<Piece> out = new ArrayList<>();
    Map.Entry<Long, Piece> floor = pieces.floorEntry(start);
    if (floor != null && floor.getValue().end() > start) {
      out.add(floor.getValue());
    }
    out.addAll(pieces.subMap(start, false, end, false).values());
    return out;
  }

  /** Distinct ranges that differ from the replica's current content (for status and tests). */
  public synchronized int pieces() {
    return pieces.size();
  }
}
