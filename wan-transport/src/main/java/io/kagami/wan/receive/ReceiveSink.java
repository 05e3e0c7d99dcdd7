package io.kagami.wan.receive;

import io.kagami.journal.JournalEntry;
import io.kagami.wan.frame.WanMessage;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** The standby's journal of one replicated volume, as the receiver sees it. */
public interface ReceiveSink {

  String volume();

  long sizeBytes();

  /** Highest sequence number durable in the standby's journal; the primary resumes after it. */
  long lastDurableSeq();

  /** The data generation of the history this standby holds (0 when it holds none yet). */
  default long generation() {
    return 0;
  }

  /**
   * Checks the primary's generation ({@code generation}, grown out of {@code prior} which ended at
   * {@code priorEnd}) against the history held here, adopting it when they are one line; throws
   * {@link LinkRefusedException} with the reason when the histories diverged.
   */
  default void acceptGeneration(long generation, long prior, long priorEnd) throws LinkRefusedException {}

  /**
   * Ranges where the replica differs from what its history says (an old primary that rejoined and
   * discarded its writes after the fork), which the primary must copy; sent in every WELCOME until
   * a resync has ended. At most {@link io.kagami.wan.frame.WanCodec#MAX_DIVERGED_RANGES}.
   */
  default List<WanMessage.Range> diverged() {
    return List.of();
  }

  /**
   * Makes {@code entries} durable in order. Entries at or below {@link #lastDurableSeq()} are
   * ignored (a resumed stream may repeat some); a gap is an error. Completes with the new last
   * durable sequence number, on a thread that is not the caller's.
   */
  CompletableFuture<Long> store(List<JournalEntry> entries);

  /**
   * A resync begins: apply everything held, then continue the history at {@code baseSeq}; the
   * replica is inconsistent until {@link #endResync}'s point is applied.
   */
  default CompletableFuture<Void> beginResync(long baseSeq) {
    return CompletableFuture.failedFuture(new UnsupportedOperationException("volume " + volume() + " cannot be resynchronized on this standby"));
  }

  /** Writes a region's content into the replica ({@code data} null = zeroes); not yet durable. */
  default CompletableFuture<Void> storeRegion(long offset, int length, byte[] data) {
    return CompletableFuture.failedFuture(new UnsupportedOperationException("volume " + volume() + " cannot be resynchronized on this standby"));
  }

  /**
   * True when the replica's region at {@code offset} has exactly the content {@code sum} names
   * (see {@code RegionSum}); false makes the primary send the data.
   */
  default CompletableFuture<Boolean> regionMatches(long offset, int length, byte[] sum) {
    return CompletableFuture.completedFuture(false);
  }

  /** Makes every region stored so far durable. */
  default CompletableFuture<Void> syncRegions() {
    return CompletableFuture.completedFuture(null);
  }

  /** Every region was sent; the replica is consistent once it applied through {@code consistentAtSeq}. */
  default CompletableFuture<Void> endResync(long consistentAtSeq) {
    return CompletableFuture.completedFuture(null);
  }
}
