package io.kagami.replicator.lineage;

import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.apply.ReplicaConsistency;
import io.kagami.replicator.volume.FileVolume;
import java.util.List;

/**
 * A standby volume's side of the generation handshake: carries out {@link GenerationCheck}'s
 * verdict on the volume's journal. It continues or adopts the primary's generation; on a failback
 * it marks the replica inconsistent (durably, first), saves this site's writes after the fork aside
 * and discards them ({@link DivergedHistory}), then adopts; a divergence is refused with the
 * reason. Afterwards the journal continues exactly where the primary's history does.
 *
 * <p>Threads: {@link #accept} and {@link #resyncEnded} do disk I/O — journal metadata, and on a
 * failback the read of the whole diverged history and the write of its image, which may take
 * minutes — so they run on the volume's own storage thread, never on an event loop. Not
 * thread-safe: one storage thread per volume calls them.
 */
public final class StandbyLineage {
  private final String volume;
  private final JournalStream stream;
  private final Applier applier;
  private final FileVolume file;
  private final ReplicaConsistency consistency;
  private final DivergedHistory diverged;

  /**
   * {@code diverged}: what to do with this site's own writes after a fork (null: refuse such a
   * link).
   */
  public StandbyLineage(
      String volume,
      JournalStream stream,
      Applier applier,
      FileVolume file,
      ReplicaConsistency consistency,
      DivergedHistory diverged) {
    this.volume = volume;
    this.stream = stream;
    this.applier = applier;
    this.file = file;
    this.consistency = consistency;
    this.diverged = diverged;
  }

  /** The data generation of the history held here (0 when none yet); reads journal metadata. */
  public long generation() {
    return stream.meta(Generations.META_GENERATION, 0);
  }

  /** Ranges the primary must copy although the history says the replica has them; from memory. */
  public List<DivergedRange> diverged() {
    return diverged == null ? List.of() : diverged.ranges();
  }

  /**
   * Continues or adopts the primary's generation {@code offered}, after a failback's salvage when
   * the operator consented to one; throws with the reason when the histories diverged (nothing is
   * changed then).
   */
  public void accept(Generation offered) throws HistoriesDivergedException {
    long mine = generation();
    switch (GenerationCheck.decide(
        volume, mine, stream.lastSeq(), offered, diverged != null && diverged.consented())) {
      case GenerationCheck.Continue c -> settled();
      case GenerationCheck.Adopt a -> {
        stream.putMeta(Generations.META_GENERATION, a.generation());
        settled();
      }
      case GenerationCheck.Failback f -> {
        // Failback: this site was the primary the sender replaced, and holds writes after the fork.
        // Inconsistent first (durably), then save them aside and discard them; the primary copies
        // their ranges, with what it changed since, in the resync the WELCOME asks for.
        consistency.inconsistentUntilResyncEnds();
        diverged.saveAndDiscard(stream, applier, file, f.forkSeq());
        stream.putMeta(Generations.META_GENERATION, f.generation());
        settled();
      }
      case GenerationCheck.Refuse r -> throw new HistoriesDivergedException(r.reason());
    }
  }

  /** A resync ended: it copied every diverged range with everything else. */
  public void resyncEnded() {
    if (diverged != null) {
      diverged.resolved();
    }
  }

  private void settled() {
    if (diverged != null) {
      diverged.settled();
    }
  }
}
