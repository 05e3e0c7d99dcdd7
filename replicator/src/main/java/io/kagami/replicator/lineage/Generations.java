package io.kagami.replicator.lineage;

import io.kagami.journal.JournalStream;
import java.security.SecureRandom;

/**
 * A volume's data generation, kept in its journal's metadata: a random id for the line of history
 * the volume holds, the id it grew out of, and the seq where that one ended. A primary gets a
 * generation when it first runs; a promotion starts a new one; a standby adopts its primary's. The
 * WAN handshake compares them so that two histories that diverged (a promoted standby and the
 * primary it replaced) are never merged silently. Reads and writes journal metadata (RocksDB): call
 * it from a thread that may block, never from an event loop.
 */
public final class Generations {
  public static final String META_GENERATION = "generation";
  public static final String META_PRIOR = "priorGeneration";
  public static final String META_PRIOR_END = "priorGenerationEnd";
  private static final SecureRandom RANDOM = new SecureRandom();

  private Generations() {}

  /** The volume's generation, created (and persisted) if it has none yet. */
  public static long ensure(JournalStream stream) {
    long g = stream.meta(META_GENERATION, 0);
    if (g == 0) {
      g = fresh();
      stream.putMeta(META_GENERATION, g);
    }
    return g;
  }

  /** The volume's generation as a primary offers it; zeros where unknown. */
  public static Generation of(JournalStream stream) {
    return new Generation(
        stream.meta(META_GENERATION, 0),
        stream.meta(META_PRIOR, 0),
        stream.meta(META_PRIOR_END, 0));
  }

  /** A promotion: a new generation grows out of the current one, which ends at {@code endSeq}. */
  public static long startNew(JournalStream stream, long endSeq) {
    long current = stream.meta(META_GENERATION, 0);
    long g = fresh();
    // The prior first: a crash between the two writes leaves the old generation current, and the
    // promotion (which writes the generation last) is repeated or reported.
    stream.putMeta(META_PRIOR, current);
    stream.putMeta(META_PRIOR_END, endSeq);
    stream.putMeta(META_GENERATION, g);
    return g;
  }

  private static long fresh() {
    long g;
    do {
      g = RANDOM.nextLong();
    } while (g == 0);
    return g;
  }

  public static String hex(long generation) {
    return String.format("%016x", generation);
  }
}
