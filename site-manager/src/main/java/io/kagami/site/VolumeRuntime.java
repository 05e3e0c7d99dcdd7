package io.kagami.site;

import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.apply.Checkpointer;
import io.kagami.replicator.resync.Backlog;
import io.kagami.replicator.sync.SyncReplication;
import io.kagami.replicator.verify.VerifyPacer;
import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.replicator.volume.PrimaryVolume;
import io.kagami.replicator.volume.ReplicaVolume;
import io.kagami.site.config.VolumeConfig;
import io.kagami.site.link.JournalReceiveSink;
import io.kagami.site.link.JournalShipSource;
import java.util.concurrent.ScheduledFuture;

/**
 * A volume as its site runs it in one role: the parts a primary or a standby volume is made of.
 * Immutable values; {@link VolumeRuntimes} builds them and turns one into the other, the owning
 * {@link Peer} swaps them under its lock. The parts' threads and files belong to the site's {@link
 * Resources}.
 */
sealed interface VolumeRuntime permits VolumeRuntime.Primary, VolumeRuntime.Standby {
  VolumeConfig config();

  BlockDevice device();

  VolumeStateTracker state();

  default String name() {
    return config().name();
  }

  /**
   * A primary volume: writes journaled, shipped from {@code source}, checkpointed by {@code
   * checkpointer}; {@code sync} and {@code syncCheck} are null for an async volume; {@code drain}
   * is what the shutdown waits for before the volume file closes; {@code verify} places its
   * verification points (housekeeping drives it).
   */
  record Primary(
      VolumeConfig config,
      PrimaryVolume device,
      Checkpointer checkpointer,
      JournalShipSource source,
      SyncReplication sync,
      ScheduledFuture<?> syncCheck,
      Backlog backlog,
      VolumeStateTracker state,
      VolumeDrain drain,
      VerifyPacer verify)
      implements VolumeRuntime {}

  /** A standby volume: received into the journal by {@code sink}, applied onto {@code file}. */
  record Standby(
      VolumeConfig config,
      ReplicaVolume device,
      FileVolume file,
      Applier applier,
      JournalReceiveSink sink,
      VolumeStateTracker state)
      implements VolumeRuntime {}
}
