package io.kagami.site;

import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.apply.Checkpointer;
import io.kagami.replicator.resync.Backlog;
import io.kagami.replicator.resync.DirtyBitmap;
import io.kagami.replicator.sync.SyncReplication;
import io.kagami.replicator.volume.AppendTimer;
import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.replicator.volume.PrimaryVolume;
import io.kagami.replicator.volume.ReplicationGate;
import io.kagami.replicator.volume.ReplicaVolume;
import io.kagami.site.admin.AdminServer;
import io.kagami.site.admin.LinkStatus;
import io.kagami.site.admin.SiteStatus;
import io.kagami.site.admin.VolumeStatus;
import io.kagami.site.config.ReplicationMode;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import io.kagami.site.config.VolumeConfig;
import io.kagami.site.link.BandwidthControl;
import io.kagami.site.link.JournalReceiveSink;
import io.kagami.site.link.JournalShipSource;
import io.kagami.site.metrics.SiteMetrics;
import io.kagami.wan.ship.LinkSnapshot;
import java.lang.System.Logger.Level;
import java.time.Duration;
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
  private ExecutorService reads;
  private final Map<String, SwitchableDevice> exports = new LinkedHashMap<>();
  private ExecutorService resyncIo;
  private SiteMetrics metrics;
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

  /** {@code sync} is null for an async volume. */
  private record PrimaryRuntime(
      VolumeConfig config,
      PrimaryVolume device,
      Checkpointer checkpointer,
      JournalShipSource source,
      SyncReplication sync,
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
      role = Promotion.recorded(config.dataDir()) ? Role.PRIMARY : config.role();
      if (role != config.role()) {
        LOG.log(Level.WARNING, "site {0} was promoted to primary earlier (see {1}); it runs as primary, without a standby, whatever its configuration says", config.siteId(), config.dataDir().resolve(Promotion.FILE));
      }
      journal = Journal.open(JournalConfig.at(config.journalDir()), clock);
      resources.push(journal);
      ExecutorService reads = Executors.newFixedThreadPool(4, Thread.ofPlatform().name("kagami-read-", 0).daemon(true).factory());
      this.reads = reads;
      resources.push(reads::shutdownNow);
      if (config.metrics()) {
        metrics = new SiteMetrics(this::status, config.siteId(), role.label(), config.wan().peerSiteId(), config.volumes());
        resources.push(metrics);
      }
      for (VolumeConfig vc : config.volumes()) {
        volumes.put(vc.name(), openVolume(vc, reads));
      }
      // A promoted standby has no standby of its own (its configuration names none): no link.
      link = role == config.role() ? SiteLink.create(config, clock, this::shipSources, this::receiveSinks) : null;
      // Without metrics the NBD path runs on the bare devices: nothing counted, nothing timed.
      List<BlockDevice> devices = new ArrayList<>();
      for (Volume v : volumes.values()) {
        SwitchableDevice export = new SwitchableDevice(v.device());
        exports.put(v.config().name(), export);
        devices.add(metrics == null ? export : metrics.metered(export, config.siteId()));
      }
      NbdExports nbd = new NbdExports(config.nbdListen(), devices);
      nbd.start();
      nbdPort = nbd.port();
      resources.push(nbd);
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
      admin = new AdminServer(config.adminListen(), this::status, metrics == null ? null : metrics::scrape, link == null ? null : link.bandwidth(), this::promote);
      admin.start();
      resources.push(admin);
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
      return openPrimary(vc, file, stream, reads, role == config.role());
    }
    Applier applier = new Applier(vc.name(), stream, file, clock, CHECKPOINT_INTERVAL, true);
    applier.start();
    resources.push(applier);
    return new StandbyRuntime(
        vc,
        new ReplicaVolume(vc.name(), file, reads),
        file,
        applier,
        new JournalReceiveSink(vc.name(), vc.sizeBytes(), stream, applier, file, resyncIo()),
        new VolumeStateTracker(false));
  }

  /**
   * A primary volume over {@code file} and {@code stream}: at start, or when a standby is promoted.
   * Without a standby ({@code hasStandby} false: a promoted site) sync mode has nothing to wait for,
   * so the volume acknowledges on its journal alone and history accumulates for a later failback.
   */
  private PrimaryRuntime openPrimary(VolumeConfig vc, FileVolume file, JournalStream stream, ExecutorService reads, boolean hasStandby) {
    Generations.ensure(stream);
    AppendTimer appendTimer = metrics == null ? AppendTimer.NONE : metrics.journalAppendTimer(vc.name());
    SyncReplication sync = null;
    PrimaryVolume device;
    long peer = stream.meta(JournalShipSource.META_PEER_DURABLE, 0);
    if (vc.mode() == ReplicationMode.SYNC && !hasStandby) {
      LOG.log(Level.WARNING, "volume {0}: configured for sync mode, but this promoted site has no standby: writes are acknowledged on the local journal", vc.name());
    }
    if (vc.mode() == ReplicationMode.SYNC && hasStandby) {
      sync = new SyncReplication(vc.name(), vc.sync(), peer, stream::lastSeq, System::nanoTime);
      device = new PrimaryVolume(vc.name(), file, stream, config.compress(), reads, sync, appendTimer);
      syncTimer().scheduleWithFixedDelay(sync::checkTimeouts, SYNC_CHECK_INTERVAL.toMillis(), SYNC_CHECK_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
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
    return new PrimaryRuntime(vc, device, new Checkpointer(device, backlog::trimBound), source, sync, backlog, new VolumeStateTracker(true));
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
    long start = System.nanoTime();
    if (link != null) {
      link.close(); // nothing more from the old primary, ever
      link = null;
    }
    List<Promotion.VolumeAt> at = new ArrayList<>();
    for (Map.Entry<String, Volume> e : volumes.entrySet()) {
      if (e.getValue() instanceof StandbyRuntime r) {
        r.applier().close();
        r.applier().catchUp(); // everything received is applied and checkpointed
        boolean consistent = r.sink().consistent();
        JournalStream stream = journal.stream(e.getKey());
        long generation = Generations.startNew(stream, r.applier().appliedSeq());
        LOG.log(Level.INFO, "volume {0}: new data generation {1} from seq {2}", e.getKey(), Generations.hex(generation), Long.toString(r.applier().appliedSeq()));
        PrimaryRuntime p = openPrimary(r.config(), r.file(), stream, reads, false);
        e.setValue(p);
        exports.get(e.getKey()).replace(p.device());
        at.add(new Promotion.VolumeAt(e.getKey(), r.applier().appliedSeq(), consistent));
      }
    }
    role = Role.PRIMARY;
    Promotion promotion = new Promotion(clock.instant().toString(), force && !inconsistent.isEmpty(), at, (System.nanoTime() - start) / 1_000_000);
    try {
      promotion.persist(config.dataDir());
    } catch (java.io.IOException ex) {
      LOG.log(Level.ERROR, "site {0}: promoted, but recording it failed ({1}): a restart would come back as standby; fix the data directory", config.siteId(), ex.getMessage());
    }
    LOG.log(Level.WARNING, "site {0} PROMOTED to primary in {1} ms{2}: {3}", config.siteId(), promotion.millis(), promotion.forced() ? " (forced over inconsistent volumes)" : "", at);
    synchronized (stateLock) {
      changes.changed("role", ids("site", config.siteId()), Role.STANDBY.label(), Role.PRIMARY.label(), promotion.forced() ? Map.of("forced", "true") : Map.of());
      changes.flush();
    }
    return promotion;
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
    BandwidthControl bandwidth = link.bandwidth();
    if (bandwidth != null) {
      try {
        bandwidth.refresh(); // schedule windows take effect within a housekeeping interval
      } catch (RuntimeException e) {
        LOG.log(Level.ERROR, "WAN bandwidth refresh failed", e);
      }
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
          VolumeState state = primaryState(p, link != null && link.status().connected(), err);
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
    LinkStatus ls = link == null ? new LinkStatus(false, config.wan().peerSiteId(), null, 0, 0, null) : link.status();
    return new SiteStatus(config.siteId(), role == null ? config.role().label() : role.label(), nbdAddress(), ls, vs);
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
