package io.kagami.replicator.verify;

import io.kagami.journal.JournalRecord;
import io.kagami.journal.VerifyPoint;
import io.kagami.replicator.volume.FileVolume;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Instant;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * A standby volume's side of in-stream verification (see {@link VerifyPoint}). Its applier calls
 * {@link #applied} for every verification record, in sequence order, with the replica holding
 * exactly the history before that record: at a VERIFY point the replica's region is checksummed, at
 * the matching VERIFY_SUM the two checksums are compared. So a host write racing the check is
 * ordered by the history (it lands before or after the point on both sites alike) and can never
 * show as a difference; a byte that differs at the point always does.
 *
 * <p>Points are not checked where the replica cannot be at exactly the point: those replayed after
 * a restart (the file may already hold later writes; {@code skipThrough}), and while {@code
 * consistent} is false (a resync writes regions out of order). A sum whose point was not checked
 * here is ignored. At most {@link #MAX_PENDING} checksums wait for their sum (the sum follows its
 * point closely; a primary that died between the two leaves one behind).
 *
 * <p>Passes: the primary numbers its passes over the volume; a pass is complete here when every
 * region of it, from offset 0 to the last, was checked in order and matched. {@link #snapshot}
 * shows the last complete pass and the point it ended at.
 *
 * <p>Threads: {@link #applied} on the applier's thread only; {@link #snapshot} any thread.
 */
public final class ReplicaVerifier {
  private static final System.Logger LOG = System.getLogger(ReplicaVerifier.class.getName());
  static final int MAX_PENDING = 1024;

  /** A region whose replica checksum differs from the primary's at the same point. */
  public record Mismatch(
      long offset, int length, long pointSeq, long sumSeq, long primarySum, long replicaSum) {}

  /** What status and metrics show. */
  public record Snapshot(
      long regionsChecked,
      long bytesChecked,
      long mismatches,
      long lastPassNumber,
      long lastPassSeq,
      Instant lastPassAt,
      long checkedThroughSeq,
      Mismatch lastMismatch) {}

  private record Taken(VerifyPoint.Mark mark, long replicaSum) {}

  private final String volume;
  private final long skipThrough;
  private final BooleanSupplier consistent;
  private final InstantSource clock;
  private final Consumer<Mismatch> onMismatch;
  private final RegionChecksum checksum = new RegionChecksum();
  private final Map<Long, Taken> pending = new LinkedHashMap<>();

  // Pass tracking; applier thread.
  private long passNumber = -1;
  private long passNextOffset;
  private boolean passClean;

  private volatile Snapshot snapshot = new Snapshot(0, 0, 0, 0, 0, null, 0, null);

  /**
   * @param skipThrough points at or below this seq are not checked (the journal's last seq when the
   *     applier opened: the replica may already hold writes after them)
   * @param consistent false while the replica mixes old and new regions (a resync)
   * @param onMismatch told of every mismatch, on the applier's thread (it must not block long)
   */
  public ReplicaVerifier(
      String volume,
      long skipThrough,
      BooleanSupplier consistent,
      InstantSource clock,
      Consumer<Mismatch> onMismatch) {
    this.volume = volume;
    this.skipThrough = skipThrough;
    this.consistent = consistent;
    this.clock = clock;
    this.onMismatch = onMismatch;
  }

  /**
   * The applier applied verification record {@code r} at {@code seq}, and the replica holds exactly
   * the history through {@code seq - 1} (for a VERIFY) or at least through the point (for a
   * VERIFY_SUM).
   */
  public void applied(long seq, JournalRecord r, FileVolume replica) throws IOException {
    switch (r.kind()) {
      case VERIFY -> {
        if (seq <= skipThrough || !consistent.getAsBoolean()) {
          return;
        }
        VerifyPoint.Mark m = VerifyPoint.mark(r);
        if (m.offset() + m.length() > replica.size()) {
          return; // a region beyond this replica: the sizes are checked at the handshake
        }
        long sum = checksum.of(replica, m.offset(), m.length());
        pending.put(seq, new Taken(m, sum));
        if (pending.size() > MAX_PENDING) {
          var oldest = pending.keySet().iterator();
          oldest.next();
          oldest.remove();
        }
      }
      case VERIFY_SUM -> compare(seq, VerifyPoint.sum(r));
      default -> throw new IllegalArgumentException(r.kind() + " is not a verification record");
    }
  }

  private void compare(long seq, VerifyPoint.Sum s) {
    Taken t = pending.remove(s.verifySeq());
    if (t == null || t.mark().offset() != s.offset() || t.mark().length() != s.length()) {
      return; // not checked here (restart, resync) or not this region
    }
    Snapshot before = snapshot;
    boolean match = t.replicaSum() == s.checksum();
    VerifyPoint.Mark m = t.mark();
    if (m.offset() == 0) {
      passNumber = m.pass();
      passNextOffset = 0;
      passClean = true;
    }
    if (m.pass() != passNumber || m.offset() != passNextOffset) {
      passClean = false;
    }
    passNextOffset = m.offset() + m.length();
    Mismatch mismatch = null;
    if (!match) {
      passClean = false;
      mismatch =
          new Mismatch(m.offset(), m.length(), s.verifySeq(), seq, s.checksum(), t.replicaSum());
      LOG.log(
          Level.ERROR,
          "volume {0}: ALERT verification mismatch: region {1}+{2} (bytes {1}..{3}) differs from the"
              + " primary''s at seq {4} (checksum {5} here, {6} on the primary); the region is"
              + " copied again and the replica is inconsistent until then",
          volume,
          Long.toString(m.offset()),
          Integer.toString(m.length()),
          Long.toString(m.offset() + m.length() - 1),
          Long.toString(s.verifySeq()),
          Long.toHexString(t.replicaSum()),
          Long.toHexString(s.checksum()));
    }
    boolean passDone = match && passClean && m.lastOfPass() && m.pass() == passNumber;
    snapshot =
        new Snapshot(
            before.regionsChecked() + 1,
            before.bytesChecked() + m.length(),
            before.mismatches() + (match ? 0 : 1),
            passDone ? m.pass() : before.lastPassNumber(),
            passDone ? s.verifySeq() : before.lastPassSeq(),
            passDone ? clock.instant() : before.lastPassAt(),
            s.verifySeq(),
            mismatch != null ? mismatch : before.lastMismatch());
    if (passDone) {
      LOG.log(
          Level.INFO,
          "volume {0}: verification pass {1} complete: every region matched the primary, the last"
              + " at seq {2}",
          volume,
          Long.toString(m.pass()),
          Long.toString(s.verifySeq()));
    }
    if (mismatch != null) {
      onMismatch.accept(mismatch);
    }
  }

  public Snapshot snapshot() {
    return snapshot;
  }

  /** How many checksums wait for their sum (bounded by {@link #MAX_PENDING}); applier thread. */
  int pending() {
    return pending.size();
  }
}
