package io.kagami.replicator.verify;

import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.ReplicaConsistency;

/**
 * A standby volume's regions that verification found differing from the primary, until a resync
 * copied them again. Durable (journal metadata: one range covering every mismatch since the last
 * repair), so a restart does not forget them; the replica is marked inconsistent first, so it is
 * never called consistent before the repair ended.
 *
 * <p>How the copy is obtained: the ranges are offered in the next WELCOME as ranges the primary
 * must copy (the mechanism a failback uses for its discarded writes); {@link #linkMustBeRenewed}
 * asks the receive side to end the current connection once, so that the primary reconnects and
 * reads that WELCOME. The resync that follows copies the ranges with whatever changed meanwhile,
 * and its end clears them ({@link #resyncEnded}) unless more differed after the WELCOME was sent.
 *
 * <p>Threads: {@link #mismatch} on the applier's thread; the others on the volume's storage thread;
 * all under this object's monitor, which is never held while calling out except for the short
 * metadata writes.
 */
public final class RepairRequest {
  static final String META_FROM = "verifyRepairFrom";
  static final String META_END = "verifyRepairEnd";

  private final JournalStream stream;
  private final ReplicaConsistency consistency;
  private long from;
  private long end;
  private long offeredFrom;
  private long offeredEnd;
  private boolean renewLink;

  public RepairRequest(JournalStream stream, ReplicaConsistency consistency) {
    this.stream = stream;
    this.consistency = consistency;
    this.from = stream.meta(META_FROM, 0);
    this.end = stream.meta(META_END, 0);
  }

  /** Verification found {@code m}: inconsistent (durably) until it was copied again. */
  public synchronized void mismatch(ReplicaVerifier.Mismatch m) {
    long mEnd = m.offset() + m.length();
    if (end == 0) {
      from = m.offset();
      end = mEnd;
    } else {
      from = Math.min(from, m.offset());
      end = Math.max(end, mEnd);
    }
    consistency.inconsistentUntilResyncEnds();
    stream.putMeta(META_FROM, from);
    stream.putMeta(META_END, end);
    renewLink = true;
  }

  /** The range to offer the primary in a WELCOME (empty when none); remembers it as offered. */
  public synchronized long[] offer() {
    offeredFrom = from;
    offeredEnd = end;
    renewLink = false;
    return end == 0 ? new long[0] : new long[] {from, end - from};
  }

  /** True once after a mismatch: the current connection should end so a WELCOME offers it. */
  public synchronized boolean linkMustBeRenewed() {
    boolean r = renewLink;
    renewLink = false;
    return r;
  }

  /** A resync ended: what the last WELCOME offered was copied. */
  public synchronized void resyncEnded() {
    if (end == 0) {
      return;
    }
    if (offeredEnd != 0 && offeredFrom <= from && end <= offeredEnd) {
      from = 0;
      end = 0;
      stream.putMeta(META_FROM, 0);
      stream.putMeta(META_END, 0);
    } else {
      // More differed after that WELCOME: still inconsistent; the next link offers it.
      consistency.inconsistentUntilResyncEnds();
      renewLink = true;
    }
  }

  /** The range waiting for its copy, {@code [from, end)}, or null. */
  public synchronized long[] pending() {
    return end == 0 ? null : new long[] {from, end};
  }
}
