package io.kagami.site;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.apply.Checkpointer;
import io.kagami.replicator.history.History;
import io.kagami.replicator.lineage.DivergedHistory;
import io.kagami.replicator.lineage.Generations;
import io.kagami.replicator.lineage.SalvageHook;
import io.kagami.replicator.resync.Backlog;
import io.kagami.replicator.resync.DirtyBitmap;
import io.kagami.replicator.sync.SyncReplication;
import io.kagami.replicator.verify.VerifyPacer;
import io.kagami.replicator.volume.AppendTimer;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.replicator.volume.PrimaryVolume;
import io.kagami.replicator.volume.ReplicaVolume;
import io.kagami.replicator.volume.ReplicationGate;
import io.kagami.site.config.ReplicationMode;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import io.kagami.site.config.VerifySettings;
import io.kagami.site.config.VolumeConfig;
import io.kagami.site.link.JournalReceiveSink;
import io.kagami.site.link.JournalShipSource;
import io.kagami.site.metrics.SiteMetrics;
import io.kagami.wan.frame.WanCodec;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.InstantSource;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Builds a volume's {@link VolumeRuntime} for a role — at start, from the volume file and its
 * journal stream — and turns a running one into the other role in place. Every part it opens is
 * pushed onto the site's {@link Resources}, which close it.
 *
 * <p>Runs on the caller's thread: the starting thread, or the thread of a role change. Opening may
 * block on disk (journal replay, bitmap file); {@link #toStandby} waits, bounded by its timeout, on
 * the future of the volume file catching up with the journal. Not thread-safe: the owning {@link
 * Peer} calls it one role change at a time. Owns two threads, created when first needed and shut
 * down through the site's resources: {@code kagami-resync-io} (resync regions into standby
 * replicas, off the network threads) and {@code kagami-sync-timer} (sync-mode timeout checks, apart
 * from housekeeping, whose fsyncs may take seconds).
 *
 * <p>Several peers: each {@link Peer} would get its own instance, whose volume files, journal
 * streams, history and bitmaps are named under the peer (two peers may both have {@code vol0});
 * today they are named by volume alone, as the data directory has always laid them out.
 */
final class VolumeRuntimes {
  private static final System.Logger LOG = System.getLogger(VolumeRuntimes.class.getName());
  static final Duration CHECKPOINT_INTERVAL = Duration.ofSeconds(1);

  /**
   * How often the standby syncs its replica at most (see {@link Applier}: also after 1 GiB
   * applied).
   */
  static final Duration STANDBY_CHECKPOINT_INTERVAL = Duration.ofSeconds(10);

  /** Granularity of the sync-mode timeout (the configured timeout is at least this coarse). */
  static final Duration SYNC_CHECK_INTERVAL = Duration.ofMillis(100);

  /** At shutdown, how long a standby volume's queued storage work gets to finish at most. */
  static final Duration RECEIVE_STORAGE_PATIENCE = Duration.ofSeconds(3);

  private final SiteConfig config;
  private final InstantSource clock;
  private final NanoClock nanoClock;
  private final Journal journal;
  private final ExecutorService reads;
  private final Drills drills;

  /** Null without metrics: the volume's appends are not timed. */
  private final SiteMetrics metrics;

  private final Resources resources;

  /** The operator's consent to discard this site's writes after a fork (see {@link PeerRole}). */
  private final BooleanSupplier discardDiverged;

  private ScheduledExecutorService syncTimer;

  VolumeRuntimes(
      SiteConfig config,
      InstantSource clock,
      NanoClock nanoClock,
      Journal journal,
      ExecutorService reads,
      Drills drills,
      SiteMetrics metrics,
      Resources resources,
      BooleanSupplier discardDiverged) {
    this.config = config;
    this.clock = clock;
    this.nanoClock = nanoClock;
    this.journal = journal;
    this.reads = reads;
    this.drills = drills;
    this.metrics = metrics;
    this.resources = resources;
    this.discardDiverged = discardDiverged;
  }

  /**
   * Opens {@code vc} for {@code role} at start. A primary first replays its journal onto the volume
   * file (crash recovery); {@code noStandbyInSync}: see {@link #openPrimary}.
   */
  VolumeRuntime open(VolumeConfig vc, Role role, boolean noStandbyInSync) {
    FileVolume file =
        resources.add(
            "volume " + vc.name() + " file",
            FileVolume.openOrCreate(config.volumeFile(vc.name()), vc.sizeBytes()));
    JournalStream stream = journal.stream(vc.name());
    if (role == Role.PRIMARY) {
      // Crash recovery: the journal holds every change the volume file may not have durably.
      Applier replay = new Applier(vc.name(), stream, file, clock, CHECKPOINT_INTERVAL, false);
      int replayed = replay.catchUp();
      if (replayed > 0) {
        LOG.log(
            Level.INFO,
            "volume {0}: replayed {1} journal entries onto the volume file after restart",
            vc.name(),
            replayed);
      }
      return openPrimary(vc, file, stream, noStandbyInSync);
    }
    return openStandby(vc, file, stream);
  }

  private VolumeRuntime.Standby openStandby(
      VolumeConfig vc, FileVolume file, JournalStream stream) {
    History history =
        resources.add(
            "volume " + vc.name() + " history",
            new History(
                vc.name(),
                config.dataDir().resolve("history").resolve(vc.name()),
                vc.retention(),
                clock,
                History.DEFAULT_SEGMENT_BYTES,
                stream.lastSeq()));
    Rollback.resumeIfInterrupted(vc.name(), stream, history, file);
    Applier applier =
        new Applier(vc.name(), stream, file, clock, STANDBY_CHECKPOINT_INTERVAL, true, history);
    if (discardDiverged.getAsBoolean()) {
      // An old primary on its way back (failback): what its standby never confirmed may be its own
      // writes after the fork, needed when the new primary connects; keep them in the journal.
      applier.holdHistoryAfter(stream.meta(JournalShipSource.META_PEER_DURABLE, 0));
    }
    applier.start();
    resources.push("volume " + vc.name() + " applier", applier);
    DivergedHistory diverged =
        new DivergedHistory(
            vc.name(),
            vc.sizeBytes(),
            config.dataDir().resolve("saved"),
            config.dataDir().resolve("volumes").resolve(vc.name() + ".diverged"),
            config.bitmapFile(vc.name()),
            vc.bitmapGranularity(),
            WanCodec.MAX_DIVERGED_RANGES,
            discardDiverged::getAsBoolean,
            applier::releaseHistory,
            SystemTime.WALL,
            SalvageHook.NONE);
    JournalReceiveSink sink =
        new JournalReceiveSink(vc.name(), vc.sizeBytes(), stream, applier, file, diverged);
    sink.start();
    resources.pushBounded(
        "volume " + vc.name() + " receive storage",
        deadline -> sink.close(deadline.within(RECEIVE_STORAGE_PATIENCE).remaining()));
    drills.track(vc.name(), history, applier, file, sink::consistent);
    return new VolumeRuntime.Standby(
        vc,
        new ReplicaVolume(vc.name(), file, reads),
        file,
        applier,
        sink,
        new VolumeStateTracker(false));
  }

  /**
   * A primary volume over {@code file} and {@code stream}: at start, or when a standby is promoted.
   * Without a standby in sync ({@code noStandbyInSync}: a promoted site) sync mode has nothing to
   * wait for, so the volume acknowledges on its journal alone and history accumulates for a later
   * failback.
   */
  private VolumeRuntime.Primary openPrimary(
      VolumeConfig vc, FileVolume file, JournalStream stream, boolean noStandbyInSync) {
    Generations.ensure(stream);
    AppendTimer appendTimer =
        metrics == null ? AppendTimer.NONE : metrics.journalAppendTimer(vc.name());
    SyncReplication sync = null;
    ScheduledFuture<?> syncCheck = null;
    PrimaryVolume device;
    long peer = stream.meta(JournalShipSource.META_PEER_DURABLE, 0);
    if (vc.mode() == ReplicationMode.SYNC) {
      sync = new SyncReplication(vc.name(), vc.sync(), peer, stream::lastSeq, nanoClock::nanoTime);
      if (noStandbyInSync || config.wan().peer() == null) {
        // A promoted standby: its old primary is gone, nothing can confirm writes until it rejoins
        // (failback) and catches up; then the volume is back in sync by itself.
        sync.degrade();
      }
      device =
          new PrimaryVolume(vc.name(), file, stream, config.compress(), reads, sync, appendTimer);
      syncCheck =
          syncTimer()
              .scheduleWithFixedDelay(
                  sync::checkTimeouts,
                  SYNC_CHECK_INTERVAL.toMillis(),
                  SYNC_CHECK_INTERVAL.toMillis(),
                  TimeUnit.MILLISECONDS);
    } else {
      device =
          new PrimaryVolume(
              vc.name(),
              file,
              stream,
              config.compress(),
              reads,
              ReplicationGate.LOCAL,
              appendTimer);
    }
    DirtyBitmap bitmap;
    try {
      bitmap =
          DirtyBitmap.open(config.bitmapFile(vc.name()), vc.bitmapGranularity(), vc.sizeBytes());
    } catch (IOException e) {
      throw new IllegalStateException("volume " + vc.name() + ": " + e.getMessage(), e);
    }
    VolumeDrain drain = new VolumeDrain(vc.name(), device, nanoClock);
    // Closed before the volume file: writes are acknowledged before they reach it.
    resources.pushBounded("volume " + vc.name() + " file writes", drain::close);
    Backlog backlog = new Backlog(device, bitmap, vc.historyCapacityBytes(), peer);
    SyncReplication gate = sync;
    JournalShipSource source =
        new JournalShipSource(
            vc.name(),
            vc.sizeBytes(),
            stream,
            backlog,
            gate == null ? seq -> {} : gate::peerDurable,
            nanoClock);
    return new VolumeRuntime.Primary(
        vc,
        device,
        new Checkpointer(device, backlog::trimBound),
        source,
        sync,
        syncCheck,
        backlog,
        new VolumeStateTracker(true),
        drain,
        new VerifyPacer(
            vc.sizeBytes(),
            config.verify().rateBytesPerSecond(),
            VerifySettings.ON_DEMAND_RATE,
            nanoClock));
  }

  /**
   * A standby volume becomes a primary one: everything received is applied, and a new data
   * generation starts at its end. {@code noStandbyInSync}: after a failover (sync volumes
   * acknowledge locally until a standby catches up); false in a switchover, whose old primary
   * becomes the standby holding exactly this history.
   */
  VolumeRuntime.Primary toPrimary(VolumeRuntime.Standby r, boolean noStandbyInSync) {
    String name = r.name();
    r.applier().close();
    r.applier().catchUp(); // everything received is applied and checkpointed
    JournalStream stream = journal.stream(name);
    long generation = Generations.startNew(stream, r.applier().appliedSeq());
    LOG.log(
        Level.INFO,
        "volume {0}: new data generation {1} from seq {2}",
        name,
        Generations.hex(generation),
        Long.toString(r.applier().appliedSeq()));
    return openPrimary(r.config(), r.file(), stream, noStandbyInSync);
  }

  /**
   * A primary volume becomes a standby one: once the volume file holds everything journaled (its
   * writes are fenced by then), the applier takes over from the last checkpoint. Throws when the
   * volume file does not catch up within {@code timeout}.
   */
  VolumeRuntime.Standby toStandby(VolumeRuntime.Primary p, Duration timeout) {
    if (p.syncCheck() != null) {
      p.syncCheck().cancel(false);
    }
    JournalStream stream = p.device().stream();
    long end = stream.lastSeq();
    // The future of the volume writer passing the journal's end (PrimaryVolume.appliedThrough).
    if (!p.device().awaitVolumeWrites(timeout)) {
      throw new IllegalStateException(
          "volume "
              + p.name()
              + ": the volume file did not reach seq "
              + end
              + " within "
              + timeout.toSeconds()
              + " s");
    }
    // The file holds every write of this primary: nothing is left for the shutdown to wait for
    // (what this stream journals from now on is the applier's, not this device's).
    p.drain().retire();
    p.source().persist();
    p.backlog().persistIfChanged();
    return openStandby(p.config(), p.device().file(), stream);
  }

  /** The site's journal stream of {@code volume}. */
  JournalStream stream(String volume) {
    return journal.stream(volume);
  }

  private ScheduledExecutorService syncTimer() {
    if (syncTimer == null) {
      ScheduledExecutorService timer =
          Executors.newSingleThreadScheduledExecutor(
              Thread.ofPlatform().name("kagami-sync-timer").daemon(true).factory());
      resources.push("sync timer", timer::shutdownNow);
      syncTimer = timer;
    }
    return syncTimer;
  }
}
