package io.kagami.wan.receive;

import io.kagami.journal.JournalEntry;
import io.kagami.wan.frame.WanMessage;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/**
 * The standby's storage of one replicated volume, as the receiver sees it.
 *
 * <p>Threads: every method is called on the Netty event loop of the primary's connection ({@code
 * kagami-recv-<site>-io-N}), which also serves other connections and other peers. So no method may
 * block: each returns at once, does its disk work (journal writes, metadata, the replica file) on
 * threads the storage side owns and names (e.g. {@code kagami-receive-vol0}, or the journal's
 * group-commit thread), and reports the outcome through the future it returned; the receiver hands
 * that outcome back to the event loop itself. The receiver never calls a sink's next step for a
 * volume before the previous step's future completed, except {@link #store}, which it calls as soon
 * as the previous store was handed over (see {@link Receiver}).
 */
public interface ReceiveSink {

  /** The standby's name of the volume, for messages; any thread, from memory. */
  String volume();

  /** The volume's size in bytes; any thread, from memory. */
  long sizeBytes();

  /**
   * Where the primary resumes: the highest sequence number durable here, the data generation of the
   * history held (0 when none yet), and the ranges where the replica differs from that history (an
   * old primary that rejoined and discarded its writes after the fork, which the primary must copy;
   * sent in every WELCOME until a resync has ended, at most {@link
   * io.kagami.wan.frame.WanCodec#MAX_DIVERGED_RANGES}). Called on the event loop, once the steps
   * queued before have completed; must not block.
   */
  CompletableFuture<Resume> resume();

  /**
   * Checks the primary's generation ({@code generation}, grown out of {@code prior} which ended at
   * {@code priorEnd}) against the history held here, adopting it when they are one line. Fails with
   * {@link LinkRefusedException} carrying the reason when the histories diverged. A failback (this
   * site held writes after the fork, and the operator consented) saves those writes aside and
   * discards them first, which may take long: called on the event loop, it must not block.
   */
  default CompletableFuture<Void> acceptGeneration(long generation, long prior, long priorEnd) {
    return CompletableFuture.completedFuture(null);
  }

  /**
   * Makes {@code entries} durable in order. Entries at or below the last durable seq are ignored (a
   * resumed stream may repeat some); a gap is an error. Completes with the new last durable
   * sequence number, on a thread that is not the caller's. Called on the event loop: it may hand
   * the entries to the journal's queue but must not wait for the disk.
   */
  CompletableFuture<Long> store(List<JournalEntry> entries);

  /**
   * The primary's journal head of this volume, from its latest HEARTBEAT: what it had journaled and
   * not yet seen acknowledged when it sent it. Kept so a standby that loses its primary can report
   * how far behind it was. Called on the connection's event loop: must not block.
   */
  default void primaryHead(WanMessage.VolumeHead head) {}

  /**
   * A resync begins: apply everything held, then continue the history at {@code baseSeq}; the
   * replica is inconsistent until {@link #endResync}'s point is applied. Called on the event loop;
   * must not block.
   */
  default CompletableFuture<Void> beginResync(long baseSeq) {
    return CompletableFuture.failedFuture(
        new UnsupportedOperationException(
            "volume " + volume() + " cannot be resynchronized on this standby"));
  }

  /**
   * Writes a region's content into the replica ({@code data} null = zeroes); not yet durable.
   * Called on the event loop; must not block.
   */
  default CompletableFuture<Void> storeRegion(long offset, int length, byte[] data) {
    return CompletableFuture.failedFuture(
        new UnsupportedOperationException(
            "volume " + volume() + " cannot be resynchronized on this standby"));
  }

  /**
   * True when the replica's region at {@code offset} has exactly the content {@code sum} names (see
   * {@code RegionSum}); false makes the primary send the data. Called on the event loop; must not
   * block.
   */
  default CompletableFuture<Boolean> regionMatches(long offset, int length, byte[] sum) {
    return CompletableFuture.completedFuture(false);
  }

  /** Makes every region stored so far durable. Called on the event loop; must not block. */
  default CompletableFuture<Void> syncRegions() {
    return CompletableFuture.completedFuture(null);
  }

  /**
   * Every region was sent; the replica is consistent once it applied through {@code
   * consistentAtSeq}. Called on the event loop; must not block.
   */
  default CompletableFuture<Void> endResync(long consistentAtSeq) {
    return CompletableFuture.completedFuture(null);
  }

  /**
   * A volume's resume point, as {@link #resume()} reports it.
   *
   * @param lastDurableSeq highest sequence number durable here; the primary resumes after it
   * @param generation the data generation of the history held here (0: none yet)
   * @param diverged ranges the primary must copy although the history says the replica has them
   */
  record Resume(long lastDurableSeq, long generation, List<WanMessage.Range> diverged) {
    public Resume {
      diverged = List.copyOf(Objects.requireNonNull(diverged, "diverged"));
    }

    /** A resume point without generation information or diverged ranges. */
    public static Resume at(long lastDurableSeq) {
      return new Resume(lastDurableSeq, 0, List.of());
    }
  }
}
