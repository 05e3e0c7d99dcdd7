package io.kagami.site;

import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.history.History;
import io.kagami.replicator.volume.FileVolume;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;

/**
 * Rolls a standby volume back to an earlier seq before a point-in-time promotion, so that a crash
 * at any step leaves a state the next start completes:
 *
 * <ol>
 *   <li>the target is recorded ({@value #META_ROLLBACK_TO} in the journal's metadata, synced);
 *   <li>the before-images after the target are written into the replica, newest first, and the
 *       replica is forced ({@link History#rollback}: running it again gives the same bytes);
 *   <li>the journal's entries after the target are dropped and the applied point set to it;
 *   <li>the history is dropped (it described the replica before the rollback);
 *   <li>the record is cleared.
 * </ol>
 *
 * A start that finds the record repeats steps 2-5 before the applier runs (step 2 is a no-op once
 * step 4 happened), and the site stays a standby: the operator repeats the promotion.
 */
final class Rollback {
  private static final System.Logger LOG = System.getLogger(Rollback.class.getName());
  static final String META_ROLLBACK_TO = "rollbackTo";

  private Rollback() {}

  /**
   * Rolls back to {@code seq}; the applier must be stopped and {@code seq} checked against the
   * window.
   */
  static void run(
      String volume, JournalStream stream, History history, FileVolume replica, long seq) {
    stream.putMeta(META_ROLLBACK_TO, seq + 1); // +1: 0 means "none", and seq 0 is a valid target
    complete(volume, stream, history, replica, seq);
  }

  /**
   * Completes a rollback a crash interrupted; returns the seq rolled back to, or -1 if none was
   * pending.
   */
  static long resumeIfInterrupted(
      String volume, JournalStream stream, History history, FileVolume replica) {
    long recorded = stream.meta(META_ROLLBACK_TO, 0);
    if (recorded == 0) {
      return -1;
    }
    long seq = recorded - 1;
    LOG.log(
        Level.WARNING,
        "volume {0}: a point-in-time rollback to seq {1} was interrupted; completing it now (the site stays a standby: promote again)",
        volume,
        Long.toString(seq));
    complete(volume, stream, history, replica, seq);
    return seq;
  }

  private static void complete(
      String volume, JournalStream stream, History history, FileVolume replica, long seq) {
    try {
      history.rollback(seq, replica);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "volume "
              + volume
              + ": rolling the replica back to seq "
              + seq
              + " failed: "
              + e.getMessage(),
          e);
    }
    stream.truncateAfter(seq);
    stream.putMeta(Applier.META_APPLIED, seq);
    history.clear();
    stream.putMeta(META_ROLLBACK_TO, 0);
    LOG.log(
        Level.INFO,
        "volume {0}: replica rolled back to seq {1}; journal entries after it dropped",
        volume,
        Long.toString(seq));
  }
}
