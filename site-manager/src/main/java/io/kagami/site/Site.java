package io.kagami.site;

import io.kagami.site.auth.BearerToken;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.apply.Checkpointer;
import io.kagami.replicator.history.History;
import io.kagami.replicator.resync.Backlog;
import io.kagami.replicator.resync.DirtyBitmap;
import io.kagami.replicator.sync.SyncReplication;
import io.kagami.replicator.volume.AppendTimer;
import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.replicator.volume.PrimaryVolume;
import io.kagami.replicator.volume.ReplicationGate;
import io.kagami.replicator.volume.ReplicaVolume;
import io.kagami.replicator.volume.SliceDevice;
import io.kagami.site.admin.AdminServer;
import io.kagami.site.admin.AdminToken;
import io.kagami.site.admin.LinkStatus;
import io.kagami.site.admin.SiteStatus;
import io.kagami.site.admin.VolumeStatus;
import io.kagami.site.config.ReplicationMode;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import io.kagami.site.config.VolumeConfig;
import io.kagami.site.failover.FailoverController;
import io.kagami.site.failover.FencedDevice;
import io.kagami.site.link.BandwidthControl;
import io.kagami.site.link.DivergedHistory;
import io.kagami.site.link.JournalReceiveSink;
import io.kagami.site.link.JournalShipSource;
import io.kagami.site.metrics.SiteMetrics;
import io.kagami.wan.ship.LinkSnapshot;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One Kagami site: wires journal, volumes, NBD exports, the WAN link and the admin surface for the
 * site's role, and owns their lifecycle. {@link #start()} acquires in data-flow order; {@link
 * #close()} releases in reverse, collecting every failure.
 */
public final class Site implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Site.class.getName());
  static final Duration CHECKPOINT_INTERVAL = Duration.ofSeconds(1);
  /** How often the standby syncs its replica at most (see {@link Applier}: also after 1 GiB applied). */
  static final Duration STANDBY_CHECKPOINT_INTERVAL = Duration.ofSeconds(10);
  /** Granularity of the sync-mode timeout (the configured timeout is at least this coarse). */
  static final Duration SYNC_CHECK_INTERVAL = Duration.ofMillis(100);

  private final SiteConfig config;
  private final InstantSource clock;
  private final Deque<AutoCloseable> resources = new ArrayDeque<>();
  private final Map<String, Volume> volumes = new LinkedHashMap<>();
  private final StateChangeLog changes;
  private Journal journal;
  private volatile SiteLink link;
  private AdminServer admin;
  private ScheduledExecutorService syncTimer;
  /** The role this site runs now: the configured one, or primary once promoted (see {@link Promotion}). */
  private volatile Role role;
  /** The operator consented ({@code kagami failback}) to discard this site's writes after a fork. */
  private volatile boolean discardDiverged;
  /** Why the site runs in its role, when a role change recorded it (null: as configured). */
  private volatile RoleRecord recorded;
  /** Serializes role changes with housekeeping's per-volume work (never held while waiting on the network). */
  private final Object roleLock = new Object();
  /** Runs a standby's takeover in a switchover, off the network threads. */
  private ExecutorService roleWork;
  private ExecutorService reads;
  private final Map<String, SwitchableDevice> exports = new LinkedHashMap<>();
  private ExecutorService resyncIo;
  private SiteMetrics metrics;
  /** Heartbeats, witness lease, self-fencing and automatic failover; null without a failover section. */
  private FailoverController failover;
  /** A standby's retained history and DR drills (see {@link Drills}). */
  private Drills drills;
  /** Not {@code this}: close() holds that while it waits for the housekeeping thread. */
  private final Object stateLock = new Object();
  /** Last link state logged; guarded by stateLock. */
  private Boolean linkWasUp;
  private int nbdPort;
  private boolean closed;

  /** A volume as this site runs it. */
  private sealed interface Volume permits PrimaryRuntime, StandbyRuntime {
    VolumeConfig config();

    BlockDevice device();

    VolumeStateTracker state();
  }

  /** {@code sync} (and {@code syncCheck}) are null for an async volume. */
  private record PrimaryRuntime(
      VolumeConfig config,
      PrimaryVolume device,
      Checkpointer checkpointer,
      JournalShipSource source,
      SyncReplication sync,
      java.util.concurrent.ScheduledFuture<?> syncCheck,
      Backlog backlog,
      VolumeStateTracker state)
      implements Volume {}

  private record StandbyRuntime(VolumeConfig config, ReplicaVolume device, FileVolume file, Applier applier, JournalReceiveSink sink, VolumeStateTracker state)
      implements Volume {}

  public Site(SiteConfig config, InstantSource clock) {
    this.config = config;
    this.clock = clock;
    this.changes = new StateChangeLog(line -> LOG.log(Level.INFO, line), clock, StateChangeLog.DEFAULT_BURST, StateChangeLog.DEFAULT_WINDOW);
  }

  public SiteConfig config() {
    return config;
  }

  public synchronized void start() {
    try {
      SiteIdentity.verifyOrCreate(config.dataDir(), config.siteId());
      recorded = RoleRecord.read(config.dataDir()).orElse(null);
      role = recorded == null ? config.role() : recorded.role();
      discardDiverged = recorded != null && recorded.discardDiverged();
      if (role != config.role()) {
        LOG.log(
            Level.WARNING,
            "site {0} runs as {1}, although its configuration says {2}: it changed roles at run time ({3} at {4}; see {5})",
            config.siteId(),
            role.label(),
            config.role().label(),
            recorded.reason(),
            recorded.since(),
            config.dataDir().resolve(RoleRecord.FILE));
      }
      roleWork = Executors.newSingleThreadExecutor(Thread.ofPlatform().name("kagami-role").daemon(true).factory());
      ExecutorService rw = roleWork;
      resources.push(rw::shutdownNow);
      journal = Journal.open(JournalConfig.at(config.journalDir()), clock);
      resources.push(journal);
      ExecutorService reads = Executors.newFixedThreadPool(4, Thread.ofPlatform().name("kagami-read-", 0).daemon(true).factory());
      this.reads = reads;
      resources.push(reads::shutdownNow);
      drills = new Drills(config.dataDir(), clock, reads);
      resources.push(drills);
      if (config.metrics()) {
        metrics = new SiteMetrics(this::status, config.siteId(), role.label(), config.wan().peerSiteId(), config.volumes());
        resources.push(metrics);
      }
      for (VolumeConfig vc : config.volumes()) {
        volumes.put(vc.name(), openVolume(vc, reads));
      }
      // A promoted standby has no standby of its own (its configuration names none): no link.
      link = newLink(role);
      if (config.failover() != null) {
        failover = new FailoverController(config.failover(), config.siteId(), config.wan().peerSiteId(), config.dataDir(), clock, () -> role, this::linkConnected, this::promoteAutomatically);
      }
      // Without metrics the NBD path runs on the bare devices: nothing counted, nothing timed.
      List<BlockDevice> devices = new ArrayList<>();
      for (Volume v : volumes.values()) {
        SwitchableDevice export = new SwitchableDevice(v.device());
        exports.put(v.config().name(), export);
        // A consistency group is replicated as one volume and exported as its members; with a
        // failover section, every export sits behind the self-fencing write gate.
        BlockDevice fenced = failover == null ? export : new FencedDevice(export, failover.writeFence());
        List<BlockDevice> shown = new ArrayList<>();
        if (v.config().group()) {
          for (VolumeConfig.Member m : v.config().members()) {
            shown.add(new SliceDevice(m.name(), fenced, m.offset(), m.sizeBytes()));
          }
        } else {
          shown.add(fenced);
        }
        for (BlockDevice d : shown) {
          devices.add(metrics == null ? d : metrics.metered(d, config.siteId()));
        }
      }
      NbdExports nbd = new NbdExports(config.nbdListen(), devices);
      nbd.start();
      nbdPort = nbd.port();
      resources.push(nbd);
      drills.attach(nbd);
      if (link != null) {
        link.start();
        resources.push(link);
      }
      ScheduledExecutorService housekeeping = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("kagami-housekeeping").daemon(true).factory());
      housekeeping.scheduleWithFixedDelay(this::housekeeping, CHECKPOINT_INTERVAL.toMillis(), CHECKPOINT_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
      resources.push(
          () -> {
            housekeeping.shutdown();
            housekeeping.awaitTermination(10, TimeUnit.SECONDS);
          });
      admin = new AdminServer(config.adminListen(), this::status, metrics == null ? null : metrics::scrape, new CurrentLinkControl(), this::promote);
      admin.action("/switchover", body -> switchover(Duration.ofSeconds(body.path("timeoutSeconds").asLong(DEFAULT_ROLE_TIMEOUT.toSeconds()))));
      admin.action("/failback", body -> failback());
      if (failover != null) {
        admin.failover(failover);
      }
      admin.drills(new SiteDrillControl());
      BearerToken token = AdminToken.loadOrCreate(config.adminTokenFile());
      admin.token(token);
      admin.start();
      resources.push(admin);
      // Local CLIs of the same user find the token here (the port is the bound one: admin port 0 in tests).
      Path published = AdminToken.publishedFile(System.getenv(), admin.port());
      if (AdminToken.publish(token, published)) {
        resources.push(() -> AdminToken.unpublish(token, published));
      }
      if (failover != null) {
        failover.start();
        resources.push(failover);
      }
      LOG.log(Level.INFO, "site {0} ({1}) started: nbd {2}, admin {3}, metrics {4}", config.siteId(), role.label(), nbdAddress(), adminAddress(), config.metrics() ? "on" : "off");
      SequencedMap<String, String> site = ids("site", config.siteId());
      changes.changed("role", site, null, role.label(), Map.of());
      for (VolumeConfig vc : config.volumes()) {
        SequencedMap<String, String> ids = ids("site", config.siteId());
        ids.put("volume", vc.name());
        changes.changed("mode", ids, null, vc.mode().label(), Map.of());
      }
      observeStates();
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  private Volume openVolume(VolumeConfig vc, ExecutorService reads) {
    FileVolume file = FileVolume.openOrCreate(config.volumeFile(vc.name()), vc.sizeBytes());
    resources.push(file);
    JournalStream stream = journal.stream(vc.name());
    if (role == Role.PRIMARY) {
      // Crash recovery: the journal holds every change the volume file may not have durably.
      Applier replay = new Applier(vc.name(), stream, file, clock, CHECKPOINT_INTERVAL, false);
      int replayed = replay.catchUp();
      if (replayed > 0) {
        LOG.log(Level.INFO, "volume {0}: replayed {1} journal entries onto the volume file after restart", vc.name(), replayed);
      }
      return openPrimary(vc, file, stream, reads, promotedByFailover());
    }
    return openStandby(vc, file, stream, reads);
  }

  /** True when this site runs as primary because a standby was promoted (no standby in sync yet). */
  private boolean promotedByFailover() {
    RoleRecord r = recorded;
    return r != null && r.role() == Role.PRIMARY && r.reason().startsWith("promote");
  }

  private StandbyRuntime openStandby(VolumeConfig vc, FileVolume file, JournalStream stream, ExecutorService reads) {
    History history = new History(vc.name(), config.dataDir().resolve("history").resolve(vc.name()), vc.retention(), clock, History.DEFAULT_SEGMENT_BYTES, stream.lastSeq());
    resources.push(history);
    Rollback.resumeIfInterrupted(vc.name(), stream, history, file);
    Applier applier = new Applier(vc.name(), stream, file, clock, STANDBY_CHECKPOINT_INTERVAL, true, history);
    if (discardDiverged) {
      // An old primary on its way back (failback): what its standby never confirmed may be its own
      // writes after the fork, needed when the new primary connects; keep them in the journal.
      applier.holdHistoryAfter(stream.meta(JournalShipSource.META_PEER_DURABLE, 0));
    }
    applier.start();
    resources.push(applier);
    DivergedHistory diverged =
        new DivergedHistory(
            vc.name(),
            vc.sizeBytes(),
            config.dataDir().resolve("saved"),
            config.dataDir().resolve("volumes").resolve(vc.name() + ".diverged"),
            config.bitmapFile(vc.name()),
            vc.bitmapGranularity(),
            () -> discardDiverged,
            applier::releaseHistory);
    JournalReceiveSink sink = new JournalReceiveSink(vc.name(), vc.sizeBytes(), stream, applier, file, resyncIo(), diverged);
    drills.track(vc.name(), history, applier, file, sink::consistent);
    return new StandbyRuntime(
        vc,
        new ReplicaVolume(vc.name(), file, reads),
        file,
        applier,
        sink,
        new VolumeStateTracker(false));
  }

  /**
   * The WAN link for {@code role}: a shipper to wan.peer on a primary, a receiver on wan.listen on
   * a standby; null when the address that role needs is not configured (a promoted standby without
   * wan.peer runs alone, its history accumulating for a later failback).
   */
  private SiteLink newLink(Role r) {
    if (r == Role.PRIMARY && config.wan().peer() == null) {
      LOG.log(Level.WARNING, "site {0} runs as primary without a standby: wan.peer is not configured, so nothing is replicated", config.siteId());
      return null;
    }
    if (r == Role.STANDBY && config.wan().listen() == null) {
      return null;
    }
    return SiteLink.create(config, r, clock, this::shipSources, this::receiveSinks, new Takeover());
  }

  /**
   * A primary volume over {@code file} and {@code stream}: at start, or when a standby is promoted.
   * Without a standby ({@code hasStandby} false: a promoted site) sync mode has nothing to wait for,
   * so the volume acknowledges on its journal alone and history accumulates for a later failback.
   */
  private PrimaryRuntime openPrimary(VolumeConfig vc, FileVolume file, JournalStream stream, ExecutorService reads, boolean noStandbyInSync) {
    Generations.ensure(stream);
    AppendTimer appendTimer = metrics == null ? AppendTimer.NONE : metrics.journalAppendTimer(vc.name());
    SyncReplication sync = null;
    java.util.concurrent.ScheduledFuture<?> syncCheck = null;
    PrimaryVolume device;
    long peer = stream.meta(JournalShipSource.META_PEER_DURABLE, 0);
    if (vc.mode() == ReplicationMode.SYNC) {
      sync = new SyncReplication(vc.name(), vc.sync(), peer, stream::lastSeq, System::nanoTime);
      if (noStandbyInSync || config.wan().peer() == null) {
        // A promoted standby: its old primary is gone, nothing can confirm writes until it rejoins
        // (failback) and catches up; then the volume is back in sync by itself.
        sync.degrade();
      }
      device = new PrimaryVolume(vc.name(), file, stream, config.compress(), reads, sync, appendTimer);
      syncCheck = syncTimer().scheduleWithFixedDelay(sync::checkTimeouts, SYNC_CHECK_INTERVAL.toMillis(), SYNC_CHECK_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
    } else {
      device = new PrimaryVolume(vc.name(), file, stream, config.compress(), reads, ReplicationGate.LOCAL, appendTimer);
    }
    DirtyBitmap bitmap;
    try {
      bitmap = DirtyBitmap.open(config.bitmapFile(vc.name()), vc.bitmapGranularity(), vc.sizeBytes());
    } catch (java.io.IOException e) {
      throw new IllegalStateException("volume " + vc.name() + ": " + e.getMessage(), e);
    }
    PrimaryVolume written = device;
    // Closed before the volume file: writes are acknowledged before they reach it.
    resources.push(() -> written.awaitVolumeWrites(Duration.ofSeconds(30)));
    Backlog backlog = new Backlog(device, bitmap, vc.historyCapacityBytes(), peer);
    SyncReplication gate = sync;
    JournalShipSource source = new JournalShipSource(vc.name(), vc.sizeBytes(), stream, backlog, gate == null ? seq -> {} : gate::peerDurable);
    return new PrimaryRuntime(vc, device, new Checkpointer(device, backlog::trimBound), source, sync, syncCheck, backlog, new VolumeStateTracker(true));
  }

  /**
   * Unplanned failover: this standby becomes the primary of every volume, from what it holds.
   * Refused, with the reason, when the site is a primary already, or when a volume's replica is
   * inconsistent (a resync was cut short) and {@code force} is false. The link to the old primary
   * is closed for good; every entry received is applied; each export turns read-write; the
   * promotion is recorded in the data directory so a restart keeps the role.
   *
   * <p>The caller is responsible for the old primary being down or fenced: nothing here can stop
   * it (see the failover-policy module for the witness and fencing that make that automatic).
   */
  public synchronized Promotion promote(boolean force) {
    if (role == Role.PRIMARY) {
      throw new Promotion.RefusedException("site " + config.siteId() + " is already the primary");
    }
    List<String> inconsistent = new ArrayList<>();
    for (Volume v : volumes.values()) {
      if (v instanceof StandbyRuntime r && !r.sink().consistent()) {
        inconsistent.add(v.config().name());
      }
    }
    if (!inconsistent.isEmpty() && !force) {
      throw new Promotion.RefusedException(
          "volume(s) " + String.join(", ", inconsistent) + " are inconsistent: a resync was interrupted, so the replica mixes old and new regions;"
              + " promote --force accepts them as they are");
    }
    drills.stopAll("the site is being promoted");
    long start = System.nanoTime();
    SiteLink old = link;
    if (old != null) {
      old.close(); // nothing more from the old primary, ever
      link = null;
    }
    record(new RoleRecord(Role.PRIMARY, clock.instant().toString(), "promote (failover from " + config.wan().peerSiteId() + ")", false));
    List<Promotion.VolumeAt> at = new ArrayList<>();
    synchronized (roleLock) {
      for (Map.Entry<String, Volume> e : volumes.entrySet()) {
        if (e.getValue() instanceof StandbyRuntime r) {
          boolean consistent = r.sink().consistent();
          PrimaryRuntime p = toPrimary(r, true);
          e.setValue(p);
          at.add(new Promotion.VolumeAt(e.getKey(), p.device().stream().lastSeq(), consistent));
        }
      }
      role = Role.PRIMARY;
    }
    drills.promoted(); // history described a standby's replica; the volume takes writes now
    startLink();
    Promotion promotion = new Promotion(clock.instant().toString(), force && !inconsistent.isEmpty(), at, (System.nanoTime() - start) / 1_000_000);
    try {
      promotion.persist(config.dataDir());
    } catch (java.io.IOException ex) {
      LOG.log(Level.WARNING, "site {0}: promoted, but writing the promotion details failed ({1})", config.siteId(), ex.getMessage());
    }
    LOG.log(Level.WARNING, "site {0} PROMOTED to primary in {1} ms{2}: {3}", config.siteId(), promotion.millis(), promotion.forced() ? " (forced over inconsistent volumes)" : "", at);
    roleChanged(Role.STANDBY, promotion.forced() ? Map.of("forced", "true") : Map.of());
    return promotion;
  }

  /**
   * A standby volume becomes a primary one in place: everything received is applied, a new data
   * generation starts at its end, and the export turns read-write. {@code noStandbyInSync}: after a
   * failover (sync volumes acknowledge locally until a standby catches up); false in a switchover,
   * whose old primary becomes the standby holding exactly this history.
   */
  private PrimaryRuntime toPrimary(StandbyRuntime r, boolean noStandbyInSync) {
    String name = r.config().name();
    r.applier().close();
    r.applier().catchUp(); // everything received is applied and checkpointed
    JournalStream stream = journal.stream(name);
    long generation = Generations.startNew(stream, r.applier().appliedSeq());
    LOG.log(Level.INFO, "volume {0}: new data generation {1} from seq {2}", name, Generations.hex(generation), Long.toString(r.applier().appliedSeq()));
    PrimaryRuntime p = openPrimary(r.config(), r.file(), stream, reads, noStandbyInSync);
    exports.get(name).replace(p.device());
    exports.get(name).unfence();
    return p;
  }

  /**
   * A primary volume becomes a standby one in place: once the volume file holds everything
   * journaled, the applier takes over from the last checkpoint and the export turns read-only.
   */
  private StandbyRuntime toStandby(PrimaryRuntime p) {
    String name = p.config().name();
    if (p.syncCheck() != null) {
      p.syncCheck().cancel(false);
    }
    JournalStream stream = p.device().stream();
    long end = stream.lastSeq();
    long deadline = System.nanoTime() + DEFAULT_ROLE_TIMEOUT.toNanos();
    while (p.device().appliedSeq() < end) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("volume " + name + ": the volume file did not reach seq " + end + " within " + DEFAULT_ROLE_TIMEOUT.toSeconds() + " s");
      }
      java.util.concurrent.locks.LockSupport.parkNanos(200_000);
    }
    p.source().persist();
    p.backlog().persistIfChanged();
    StandbyRuntime r = openStandby(p.config(), p.device().file(), stream, reads);
    exports.get(name).replace(r.device());
    exports.get(name).unfence(); // the replica refuses writes itself
    return r;
  }

  /** How long a role change waits for writes to drain, the standby to confirm, the peer to answer. */
  static final Duration DEFAULT_ROLE_TIMEOUT = Duration.ofSeconds(30);

  /**
   * Planned switchover, run on the primary: stops taking writes, waits until the standby holds
   * every one of them, records this site as the standby, tells the standby to take over (in-band,
   * after the last write), and becomes the standby of the new primary. Zero writes are lost: the
   * new primary starts from exactly this site's last seq. Refused, with nothing changed, when the
   * link is down, a volume is being resynchronized, or the standby does not catch up in time.
   */
  public synchronized Map<String, Object> switchover(Duration timeout) {
    if (role != Role.PRIMARY) {
      throw new Promotion.RefusedException("site " + config.siteId() + " is a standby: run switchover against the primary (" + config.wan().peerSiteId() + ")");
    }
    if (config.wan().listen() == null) {
      throw new Promotion.RefusedException("site " + config.siteId() + " has no wan.listen: it could not become the standby; configure where it listens for its peer and restart it first");
    }
    if (!(link instanceof SiteLink.Primary primaryLink) || !link.status().connected()) {
      throw new Promotion.RefusedException(
          "the link to standby " + config.wan().peerSiteId() + " is down; a switchover needs it up (if this site is lost, promote the standby instead)");
    }
    for (Volume v : volumes.values()) {
      if (v instanceof PrimaryRuntime p && (p.backlog().needsResync() || p.source().resyncing())) {
        throw new Promotion.RefusedException("volume " + v.config().name() + " is being resynchronized: the standby is not consistent yet; wait for it (kagami status) and retry");
      }
    }
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    String peer = config.wan().peerSiteId();
    String why = "switchover to " + peer + " in progress: this site is becoming the standby";
    for (SwitchableDevice export : exports.values()) {
      if (!export.fence(why, remaining(deadline))) {
        unfenceAll();
        throw new Promotion.RefusedException("writes were still in flight after " + timeout.toSeconds() + " s; the switchover was called off and this site takes writes again");
      }
    }
    Map<String, Long> ends = new LinkedHashMap<>();
    for (Volume v : volumes.values()) {
      PrimaryRuntime p = (PrimaryRuntime) v;
      long end = p.device().stream().lastSeq();
      ends.put(v.config().name(), end);
      while (p.source().peerDurableSeq() < end) {
        if (System.nanoTime() > deadline) {
          unfenceAll();
          throw new Promotion.RefusedException(
              "standby "
                  + peer
                  + " confirmed volume "
                  + v.config().name()
                  + " only through seq "
                  + p.source().peerDurableSeq()
                  + " of "
                  + end
                  + " within "
                  + timeout.toSeconds()
                  + " s; the switchover was called off and this site takes writes again");
        }
        java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
      }
    }
    LOG.log(Level.INFO, "site {0}: switchover to {1}: writes stopped and drained at {2}", config.siteId(), peer, ends);
    // Recorded before the standby hears of it: whatever happens next, this site never again takes
    // writes on its own (a crash now leaves two standbys, which one promote resolves, never two primaries).
    record(new RoleRecord(Role.STANDBY, clock.instant().toString(), "switchover to " + peer, false));
    try {
      primaryLink.handover(ends).get(remaining(deadline).toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      String reason = e instanceof java.util.concurrent.ExecutionException ? String.valueOf(e.getCause().getMessage()) : e instanceof java.util.concurrent.TimeoutException ? "no answer in time" : String.valueOf(e.getMessage());
      if (reason.startsWith("the standby refused")) {
        // The standby answered no and changed nothing: this site stays the primary.
        record(recorded == null || recorded.role() != Role.PRIMARY ? new RoleRecord(Role.PRIMARY, clock.instant().toString(), "switchover called off", false) : recorded);
        unfenceAll();
        throw new Promotion.RefusedException("standby " + peer + " refused the switchover: " + reason + "; this site stays the primary and takes writes again");
      }
      // Unknown whether the standby took over: stay out of the way (never two primaries).
      LOG.log(Level.ERROR, "site {0}: switchover to {1}: {2}; this site is now a standby", config.siteId(), peer, reason);
      demote();
      throw new Promotion.RefusedException(
          "the standby did not confirm the switchover (" + reason + "); this site is now a standby. If " + peer + " is not the primary (kagami status on it), run `kagami promote` on either site: both hold the same data");
    }
    demote();
    // Done once the new primary replicates back to us: it has taken over by then (it dials only
    // after turning primary), so hosts can reattach to it when this returns.
    long connectBy = System.nanoTime() + Math.min(remaining(deadline).toNanos(), Duration.ofSeconds(15).toNanos());
    while (!linkConnected() && System.nanoTime() < connectBy) {
      java.util.concurrent.locks.LockSupport.parkNanos(10_000_000);
    }
    long millis = (System.nanoTime() - start) / 1_000_000;
    LOG.log(Level.WARNING, "site {0}: SWITCHOVER done in {1} ms: {2} is the primary, this site its standby{3}", config.siteId(), millis, peer, linkConnected() ? "" : " (it has not connected back yet)");
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("site", config.siteId());
    out.put("role", Role.STANDBY.label());
    out.put("primary", peer);
    out.put("endSeqs", ends);
    out.put("replicating", linkConnected());
    out.put("millis", millis);
    return out;
  }

  /**
   * Failback (reprotect), run on an old primary that returned after its standby was promoted: it
   * stops taking writes and becomes the standby of the new primary. When that one connects, its
   * writes after the fork are saved aside and discarded, and only the ranges changed on either
   * side since the fork are copied back (see {@link DivergedHistory}).
   */
  public synchronized Map<String, Object> failback() {
    if (role != Role.PRIMARY) {
      throw new Promotion.RefusedException("site " + config.siteId() + " is already a standby");
    }
    if (config.wan().listen() == null) {
      throw new Promotion.RefusedException("site " + config.siteId() + " has no wan.listen: it could not become the standby; configure where it listens for its peer and restart it first");
    }
    if (link != null && link.status().connected()) {
      throw new Promotion.RefusedException(
          "site " + config.siteId() + " is replicating to its standby " + config.wan().peerSiteId() + ", which was not promoted: use switchover for a planned move of the primary");
    }
    long start = System.nanoTime();
    for (SwitchableDevice export : exports.values()) {
      export.fence("failback in progress: this site is becoming the standby of " + config.wan().peerSiteId(), DEFAULT_ROLE_TIMEOUT);
    }
    discardDiverged = true;
    record(new RoleRecord(Role.STANDBY, clock.instant().toString(), "failback: standby of " + config.wan().peerSiteId(), true));
    demote();
    long millis = (System.nanoTime() - start) / 1_000_000;
    LOG.log(Level.WARNING, "site {0}: FAILBACK: now the standby of {1}; waiting for it to connect and copy back what changed", config.siteId(), config.wan().peerSiteId());
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("site", config.siteId());
    out.put("role", Role.STANDBY.label());
    out.put("primary", config.wan().peerSiteId());
    out.put("listen", config.wan().listen().toString());
    out.put("millis", millis);
    return out;
  }

  /**
   * Failback prepared while the site is stopped (the safer order: it never starts as a primary):
   * records it as the standby of its peer, with consent to discard its writes after the fork, so
   * that {@code kagami run} starts it as the standby. Returns what to tell the operator.
   */
  public static String markForFailback(SiteConfig config, InstantSource clock) {
    RoleRecord current = RoleRecord.read(config.dataDir()).orElse(null);
    Role now = current == null ? config.role() : current.role();
    if (now == Role.STANDBY && (current == null || current.discardDiverged())) {
      throw new Promotion.RefusedException("site " + config.siteId() + " is already a standby");
    }
    if (config.wan().listen() == null) {
      throw new Promotion.RefusedException("site " + config.siteId() + " has no wan.listen: it could not become the standby; configure where it listens for its peer first");
    }
    RoleRecord r = new RoleRecord(Role.STANDBY, clock.instant().toString(), "failback: standby of " + config.wan().peerSiteId() + " (marked while stopped)", true);
    try {
      r.persist(config.dataDir());
    } catch (java.io.IOException e) {
      throw new IllegalStateException("cannot record the failback in " + config.dataDir() + ": " + e.getMessage(), e);
    }
    return "site " + config.siteId() + " will start as the standby of " + config.wan().peerSiteId() + " (listening on " + config.wan().listen() + ")";
  }

  /** This primary becomes a standby in place: link closed, volumes turned, receiver listening. */
  private void demote() {
    SiteLink old = link;
    link = null;
    if (old != null) {
      old.close();
    }
    synchronized (roleLock) {
      for (Map.Entry<String, Volume> e : volumes.entrySet()) {
        if (e.getValue() instanceof PrimaryRuntime p) {
          e.setValue(toStandby(p));
        }
      }
      role = Role.STANDBY;
    }
    startLink();
    roleChanged(Role.PRIMARY, Map.of());
  }

  /** A standby's side of a switchover: see {@link SiteLink.Takeover}. */
  private final class Takeover implements SiteLink.Takeover {
    @Override
    public java.util.concurrent.CompletableFuture<Void> handover(String site, Map<String, Long> endSeqs) {
      return java.util.concurrent.CompletableFuture.runAsync(() -> acceptHandover(site, endSeqs), roleWork);
    }

    @Override
    public void handedOver(String site) {
      roleWork.execute(() -> {
        try {
          takeOver(site);
        } catch (RuntimeException e) {
          LOG.log(Level.ERROR, "site " + config.siteId() + ": taking over from " + site + " failed; it is recorded as primary and becomes one on restart", e);
        }
      });
    }
  }

  /** Checks a switchover request against what this standby holds and records the new role. */
  private synchronized void acceptHandover(String site, Map<String, Long> endSeqs) {
    if (role != Role.STANDBY) {
      throw new Promotion.RefusedException("site " + config.siteId() + " is not a standby");
    }
    if (config.wan().peer() == null) {
      throw new Promotion.RefusedException("site " + config.siteId() + " has no wan.peer: as primary it could not replicate back to " + site);
    }
    for (Volume v : volumes.values()) {
      StandbyRuntime r = (StandbyRuntime) v;
      Long end = endSeqs.get(v.config().name());
      long held = r.sink().lastDurableSeq();
      if (end == null || held != end || !r.sink().consistent()) {
        throw new Promotion.RefusedException(
            "volume " + v.config().name() + " here holds seq " + held + (r.sink().consistent() ? "" : " (inconsistent)") + ", the primary ends at " + end);
      }
    }
    record(new RoleRecord(Role.PRIMARY, clock.instant().toString(), "switchover from " + site, false));
    LOG.log(Level.INFO, "site {0}: switchover from {1} accepted at {2}", config.siteId(), site, endSeqs);
  }

  /** The old primary was told: become the primary in place and replicate back to it. */
  private synchronized void takeOver(String site) {
    if (role == Role.PRIMARY || closed) {
      return;
    }
    long start = System.nanoTime();
    drills.stopAll("the site takes over as primary in a switchover");
    SiteLink old = link;
    link = null;
    if (old != null) {
      old.close();
    }
    synchronized (roleLock) {
      for (Map.Entry<String, Volume> e : volumes.entrySet()) {
        if (e.getValue() instanceof StandbyRuntime r) {
          e.setValue(toPrimary(r, false));
        }
      }
      role = Role.PRIMARY;
    }
    drills.promoted();
    startLink();
    LOG.log(Level.WARNING, "site {0}: SWITCHOVER: took over from {1} in {2} ms; now the primary, replicating to it", config.siteId(), site, (System.nanoTime() - start) / 1_000_000);
    roleChanged(Role.STANDBY, Map.of());
  }

  /** {@code /link} follows the role: the bandwidth of whichever link this site runs now. */
  private final class CurrentLinkControl implements io.kagami.site.admin.LinkControl {
    private BandwidthControl control() {
      SiteLink current = link;
      BandwidthControl b = current == null ? null : current.bandwidth();
      if (b == null) {
        throw new Promotion.RefusedException("this site is a standby: the WAN bandwidth cap is set on the primary (the sending side)");
      }
      return b;
    }

    @Override
    public io.kagami.site.admin.LinkBandwidth bandwidth() {
      return control().bandwidth();
    }

    @Override
    public io.kagami.site.admin.LinkBandwidth override(Long bytesPerSecond) {
      return control().override(bytesPerSecond);
    }
  }

  private void startLink() {
    SiteLink next = newLink(role);
    if (next != null) {
      next.start();
      link = next;
    }
  }

  private void record(RoleRecord r) {
    try {
      r.persist(config.dataDir());
    } catch (java.io.IOException e) {
      throw new IllegalStateException("site " + config.siteId() + ": recording the role change failed (" + e.getMessage() + "); nothing was changed", e);
    }
    recorded = r;
  }

  private void roleChanged(Role from, Map<String, String> extra) {
    synchronized (stateLock) {
      changes.changed("role", ids("site", config.siteId()), from.label(), role.label(), extra);
      changes.flush();
    }
  }

  /** Why the exports refuse writes for a role change (switchover, failback) under way, or null. */
  private String roleChangeInProgress() {
    for (SwitchableDevice export : exports.values()) {
      if (export.fenced() != null) {
        return export.fenced();
      }
    }
    return null;
  }

  private void unfenceAll() {
    for (SwitchableDevice export : exports.values()) {
      export.unfence();
    }
  }

  private static Duration remaining(long deadlineNanos) {
    return Duration.ofNanos(Math.max(1_000_000, deadlineNanos - System.nanoTime()));
  }

  /** Automatic failover's promotion (see {@link FailoverController}): as {@link #promote(boolean)}, refused once the site is closing. */
  synchronized Promotion promoteAutomatically() {
    if (closed) {
      throw new Promotion.RefusedException("site " + config.siteId() + " is shutting down");
    }
    return promote(false);
  }

  /**
   * Point-in-time failover: rolls every standby volume (or only {@code volume}) back to {@code seq}
   * or to the last entry journaled at or before {@code at} (both within the retained history),
   * then promotes as {@link #promote(boolean)} does; the new data generation starts at that seq
   * and the entries after it are dropped. The rollback is recorded before it starts and completed
   * on the next start if a crash cuts it short (see {@link Rollback}).
   */
  public synchronized Promotion promote(boolean force, String volume, Long seq, Instant at) {
    if (role == Role.PRIMARY) {
      throw new Promotion.RefusedException("site " + config.siteId() + " is already the primary");
    }
    if ((seq == null) == (at == null)) {
      throw new Promotion.RefusedException("a point-in-time promotion takes either a seq or a time");
    }
    List<StandbyRuntime> targets = new ArrayList<>();
    for (Volume v : volumes.values()) {
      if (v instanceof StandbyRuntime r && (volume == null || volume.equals(v.config().name()))) {
        targets.add(r);
      }
    }
    if (targets.isEmpty()) {
      throw new Promotion.RefusedException("no standby volume " + volume + " here (volumes: " + String.join(", ", volumes.keySet()) + ")");
    }
    if (seq != null && targets.size() > 1) {
      throw new Promotion.RefusedException("this site has " + targets.size() + " volumes: a seq belongs to one of them (name it with --volume), or promote --at a time");
    }
    // Refused without side effects when a point is outside a window: checked on the running replica
    // first, then again once everything received is applied.
    for (StandbyRuntime r : targets) {
      History h = drills.history(r.config().name());
      try {
        r.applier().paused(() -> {
          long applied = r.applier().appliedSeq();
          h.check(seq != null ? seq : h.seqAt(at, applied), applied);
          return null;
        });
      } catch (History.OutsideWindowException e) {
        throw new Promotion.RefusedException(e.getMessage());
      }
    }
    drills.stopAll("the site is being promoted to a point in time");
    if (link != null) {
      link.close(); // nothing more from the old primary, ever: the journal is cut below
      link = null;
    }
    Map<String, Long> points = new LinkedHashMap<>();
    for (StandbyRuntime r : targets) {
      r.applier().close();
      r.applier().catchUp();
      History h = drills.history(r.config().name());
      long applied = r.applier().appliedSeq();
      try {
        long n = seq != null ? seq : h.seqAt(at, applied);
        h.check(n, applied);
        points.put(r.config().name(), n);
      } catch (History.OutsideWindowException e) {
        throw new Promotion.RefusedException(e.getMessage() + "; nothing was changed (replication has stopped applying: restart the site to resume it)");
      }
    }
    for (StandbyRuntime r : targets) {
      String name = r.config().name();
      long n = points.get(name);
      if (n < r.applier().appliedSeq()) {
        Rollback.run(name, journal.stream(name), drills.history(name), r.file(), n);
        r.applier().resetTo(n);
      }
    }
    return promote(force);
  }

  private String nbdHost() {
    String h = config.nbdListen().host();
    return h.equals("0.0.0.0") || h.equals("::") ? "127.0.0.1" : h;
  }

  /** The admin surface's view of drills and point-in-time promotion. */
  private final class SiteDrillControl implements io.kagami.site.admin.DrillControl {
    @Override
    public Object start(String volume, Long seq, String at) {
      if (role == Role.PRIMARY) {
        throw new Promotion.RefusedException("site " + config.siteId() + " is a primary: a drill runs on a standby, on a clone of its replica (run drill start against the standby's --admin)");
      }
      Drills.Started s = drills.start(volume, seq, at == null ? null : PointInTime.parse(at, clock));
      return Map.of("volume", s.volume(), "export", s.export(), "seq", s.seq(), "appliedSeq", s.appliedSeq(), "uri", "nbd://" + nbdHost() + ":" + nbdPort + "/" + s.export());
    }

    @Override
    public Object stop(String volume) {
      return drills.stop(volume);
    }

    @Override
    public Object list() {
      return status().volumes().stream().filter(v -> v.drill() != null).map(VolumeStatus::drill).toList();
    }

    @Override
    public Object promoteAt(boolean force, String volume, Long seq, String at) {
      return promote(force, volume, seq, at == null ? null : PointInTime.parse(at, clock));
    }
  }

  /** Writes resync regions into standby replicas, off the network threads. */
  private ExecutorService resyncIo() {
    if (resyncIo == null) {
      ExecutorService io = Executors.newSingleThreadExecutor(Thread.ofPlatform().name("kagami-resync-io").daemon(true).factory());
      resources.push(io::shutdownNow);
      resyncIo = io;
    }
    return resyncIo;
  }

  /** Runs the sync-mode timeout checks; apart from housekeeping, whose fsyncs may take seconds. */
  private ScheduledExecutorService syncTimer() {
    if (syncTimer == null) {
      ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("kagami-sync-timer").daemon(true).factory());
      resources.push(timer::shutdownNow);
      syncTimer = timer;
    }
    return syncTimer;
  }

  private List<JournalShipSource> shipSources() {
    List<JournalShipSource> out = new ArrayList<>();
    for (Volume v : volumes.values()) {
      if (v instanceof PrimaryRuntime p) {
        out.add(p.source());
      }
    }
    return out;
  }

  private Map<String, JournalReceiveSink> receiveSinks() {
    Map<String, JournalReceiveSink> out = new LinkedHashMap<>();
    for (Volume v : volumes.values()) {
      if (v instanceof StandbyRuntime s) {
        out.put(v.config().name(), s.sink());
      }
    }
    return out;
  }

  private void housekeeping() {
    synchronized (roleLock) {
      housekeepingLocked();
    }
  }

  private void housekeepingLocked() {
    // A promoted site may have no link (null): it must still checkpoint. An exception here would
    // end this periodic task for good, silently (ScheduledExecutorService drops it).
    SiteLink current = link;
    BandwidthControl bandwidth = current == null ? null : current.bandwidth();
    if (bandwidth != null) {
      try {
        bandwidth.refresh(); // schedule windows take effect within a housekeeping interval
      } catch (RuntimeException e) {
        LOG.log(Level.ERROR, "WAN bandwidth refresh failed", e);
      }
    }
    try {
      drills.trim(); // a standby's history window moves on
    } catch (RuntimeException e) {
      LOG.log(Level.ERROR, "site " + config.siteId() + ": trimming the standby history failed", e);
    }
    for (Volume v : volumes.values()) {
      try {
        if (v instanceof PrimaryRuntime p) {
          p.source().persist();
          p.backlog().checkOverflow();
          p.checkpointer().doWork();
          p.backlog().persistIfChanged();
        }
      } catch (RuntimeException e) {
        LOG.log(Level.ERROR, "volume " + v.config().name() + ": housekeeping failed", e);
      }
    }
    try {
      observeStates();
    } catch (RuntimeException e) {
      LOG.log(Level.ERROR, "site " + config.siteId() + ": state observation failed", e);
    }
  }

  /**
   * One observation per housekeeping tick: the link and each volume's state, with a structured,
   * rate-limited log line for every change. Runs once on start, then on the housekeeping thread.
   */
  private void observeStates() {
    synchronized (stateLock) {
      observeStatesLocked();
    }
  }

  private void observeStatesLocked() {
    SiteStatus now = status();
    boolean up = now.link().connected();
    if (linkWasUp == null || linkWasUp != up) {
      Map<String, String> extra = up || now.link().lastError() == null ? Map.of() : Map.of("error", now.link().lastError());
      SequencedMap<String, String> ids = ids("site", config.siteId());
      ids.put("peer", config.wan().peerSiteId());
      changes.changed("link", ids, linkWasUp == null ? null : linkWasUp ? "up" : "down", up ? "up" : "down", extra);
      linkWasUp = up;
    }
    for (VolumeStatus vs : now.volumes()) {
      Volume v = volumes.get(vs.name());
      v.state().observe(new VolumeStateTracker.Observation(v instanceof PrimaryRuntime, up, vs.lagBytes(), vs.error() != null));
      VolumeState before = v.state().logged();
      VolumeState after = vs.state();
      v.state().logged(after);
      if (after != before) {
        SequencedMap<String, String> ids = ids("site", config.siteId());
        ids.put("volume", vs.name());
        changes.changed("state", ids, before.label(), after.label(), vs.error() == null ? Map.of() : Map.of("error", vs.error()));
      }
    }
    changes.flush();
  }

  private static SequencedMap<String, String> ids(String key, String value) {
    SequencedMap<String, String> m = new LinkedHashMap<>();
    m.put(key, value);
    return m;
  }

  /** The snapshot {@code GET /status} and {@code kagami status} show. */
  public SiteStatus status() {
    long now = clock.millis();
    List<VolumeStatus> vs = new ArrayList<>();
    for (Volume v : volumes.values()) {
      VolumeConfig vc = v.config();
      switch (v) {
        case PrimaryRuntime p -> {
          JournalStream s = p.device().stream();
          long acked = p.source().peerDurableSeq();
          LinkSnapshot.VolumeProgress progress = link == null ? null : link.progress(vc.name());
          String err = s.failure() != null ? s.failure().getMessage() : progress != null ? progress.stalled() : null;
          Long resumed = progress == null || !link.status().connected() ? null : progress.resumedFromSeq();
          long sent = progress == null ? acked : Math.max(acked, progress.lastSentSeq());
          long history = s.bytesAfter(sent);
          double rate = progress == null ? 0 : progress.rawSendRateBytesPerSecond();
          Double eta = history > 0 && rate > 0 ? history / rate : null;
          VolumeState state = fenced() ? VolumeState.FENCED : primaryState(p, link != null && link.status().connected(), err);
          vs.add(
              new VolumeStatus(
                  vc.name(),
                  "primary",
                  vc.mode().label(),
                  state,
                  vc.sizeBytes(),
                  s.lastSeq(),
                  acked,
                  null,
                  resumed,
                  s.bytesAfter(acked),
                  vc.historyCapacityBytes(),
                  lagSeconds(s, acked, now),
                  history,
                  lagSeconds(s, sent, now),
                  eta,
                  p.source().resyncProgress(),
                  err));
        }
        case StandbyRuntime r -> {
          JournalStream s = journal.stream(vc.name());
          long applied = r.applier().appliedSeq();
          String failure = r.applier().failure();
          VolumeState state = failure != null ? VolumeState.DEGRADED : r.sink().consistent() ? VolumeState.REPLICATING : VolumeState.INCONSISTENT;
          vs.add(
              new VolumeStatus(
                  vc.name(),
                  "standby",
                  vc.mode().label(),
                  state,
                  vc.sizeBytes(),
                  s.lastSeq(),
                  null,
                  applied,
                  null,
                  s.bytesAfter(applied),
                  vc.historyCapacityBytes(),
                  lagSeconds(s, applied, now),
                  null,
                  null,
                  null,
                  null,
                  failure));
        }
      }
    }
    vs.replaceAll(v -> v.role().equals("standby") ? v.withHistory(drills.recoverableFrom(v.name()), drills.drill(v.name(), nbdHost(), nbdPort)) : v);
    LinkStatus ls = link == null ? new LinkStatus(false, config.wan().peerSiteId(), null, 0, 0, null) : link.status();
    io.kagami.site.failover.FailoverStatus fs = failover == null ? null : failover.status();
    String roleChange = roleChangeInProgress();
    if (fs != null && roleChange != null) {
      fs = fs.fencedFor(roleChange);
    }
    String roleLabel = role == null ? config.role().label() : role.label();
    boolean accepting = role == Role.PRIMARY && roleChange == null && (fs == null || !fs.fenced());
    return new SiteStatus(config.siteId(), roleLabel, nbdAddress(), ls, vs, fs, accepting);
  }

  /** Whether this primary's writes are fenced (automatic failover: no lease evidence, or deposed). */
  private boolean fenced() {
    return failover != null && role == Role.PRIMARY && !failover.writeFence().open();
  }

  /**
   * Where a primary volume stands, from live figures (so the status never lags a change), with the
   * tracker's view of whether history keeps growing for the buffering/replicating distinction.
   */
  private static VolumeState primaryState(PrimaryRuntime p, boolean connected, String error) {
    Backlog b = p.backlog();
    if (error != null) {
      return VolumeState.DEGRADED;
    }
    if (p.source().resyncing() || (connected && b.needsResync() && !b.overflowed())) {
      return b.fullCopy() ? VolumeState.INITIAL_SYNC : VolumeState.RESYNCING;
    }
    if (b.needsResync()) {
      return VolumeState.BITMAP;
    }
    if (p.sync() != null) {
      switch (p.sync().state()) {
        case DEGRADED -> {
          return VolumeState.DEGRADED;
        }
        case BLOCKED -> {
          return VolumeState.BLOCKED;
        }
        case SYNC -> {}
      }
    }
    if (!connected) {
      return VolumeState.BUFFERING;
    }
    return p.state().growing() ? VolumeState.BUFFERING : VolumeState.REPLICATING;
  }

  private static double lagSeconds(JournalStream s, long upTo, long now) {
    long oldest = s.oldestMillisAfter(upTo);
    return oldest < 0 ? 0.0 : Math.max(0, now - oldest) / 1000.0;
  }

  /** True once a primary's link is up (a standby: once a primary is connected). */
  public boolean linkConnected() {
    return link != null && link.status().connected();
  }

  public String nbdAddress() {
    return config.nbdListen().host() + ":" + (nbdPort == 0 ? config.nbdListen().port() : nbdPort);
  }

  public String adminAddress() {
    return config.adminListen().host() + ":" + (admin == null ? config.adminListen().port() : admin.port());
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    List<Exception> failures = new ArrayList<>();
    while (!resources.isEmpty()) {
      try {
        resources.pop().close();
      } catch (Exception e) {
        failures.add(e);
      }
    }
    for (Exception e : failures) {
      LOG.log(Level.WARNING, "site " + config.siteId() + ": error while closing", e);
    }
  }


}
