package io.kagami.site;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.replicator.nbd.InFlightShare;
import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.SliceDevice;
import io.kagami.site.admin.AdminServer;
import io.kagami.site.admin.AdminToken;
import io.kagami.site.admin.SiteStatus;
import io.kagami.site.auth.BearerToken;
import io.kagami.site.config.SiteConfig;
import io.kagami.site.config.VolumeConfig;
import io.kagami.site.failover.FailoverController;
import io.kagami.site.failover.FencedDevice;
import io.kagami.site.metrics.SiteMetrics;
import io.kagami.site.recovery.RecoveryPlan;
import io.kagami.site.recovery.RecoveryProfilesLoader;
import io.kagami.site.recovery.run.RecoveryOrchestrator;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One Kagami site, assembled: the journal, the peer (its volumes, exports, link and role), the NBD
 * listener, housekeeping, the admin surface and automatic failover. {@link #start()} acquires in
 * data-flow order; {@link #close()} releases in reverse through {@link Resources}, collecting and
 * reporting every failure. The lifecycle is NEW → STARTING → RUNNING → CLOSING → CLOSED ({@link
 * LifeCycle}); no role change begins once it is closing.
 *
 * <p>The roles are elsewhere, each in its class: building and turning volume runtimes ({@link
 * VolumeRuntimes}), the peer ({@link Peer}), role changes ({@link StandbyPromoter}, {@link
 * Switchover}, {@link Failback}), housekeeping ({@link HousekeepingAgent}), the status ({@link
 * SiteStatusView}) and its change log ({@link StateObserver}). This class only wires them and
 * offers the operations the CLI and the admin surface call.
 *
 * <p>One role: assembly. It is over 500 lines only because each capability (memory budget shares,
 * per-peer promotion, recovery) adds its few lines of wiring and its delegating operation; the
 * behaviour lives in the classes named above.
 *
 * <p>Threads: {@link #start()} and {@link #close()} run on the caller's thread and exclude each
 * other (a close during start waits for it); close waits, bounded, for a role change under way. The
 * other methods hand on to the role they name and run on the caller's thread. An N:1 standby
 * ({@code peers:}) has one {@link Peer} holding every primary's namespaced volumes; it refuses a
 * whole-site promotion, which would take over all of them at once, and promotes one primary's
 * volumes at a time instead.
 *
 * <p>For the recovery orchestrator: {@link #promotePeer(String, Optional, boolean)} promotes one
 * primary's volumes of an N:1 standby while the others keep replicating (see there).
 */
public final class Site implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Site.class.getName());

  /**
   * How long a role change waits for writes to drain, the standby to confirm, the peer to answer.
   */
  static final Duration DEFAULT_ROLE_TIMEOUT = Duration.ofSeconds(30);

  /**
   * What a shutdown (SIGTERM) waits for at most, in all: a role change under way, the volume files
   * catching up, the link and the other components' own bounded closes. Well under the 10 s an init
   * system or an operator gives a stopping service.
   */
  static final Duration SHUTDOWN_BUDGET = Duration.ofSeconds(8);

  /** How long a shutdown lets a role change under way finish before closing under it. */
  static final Duration SHUTDOWN_ROLE_PATIENCE = Duration.ofSeconds(3);

  /** Closes at least this long are named in the shutdown's log line. */
  private static final Duration WORTH_NAMING = Duration.ofMillis(20);

  /** Threads serving reads from volume files, shared by every volume and drill. */
  private static final int READ_THREADS = 4;

  private final SiteConfig config;
  private final InstantSource clock;
  private final NanoClock nanoClock;
  private final LifeCycle lifecycle;
  private final ReentrantLock startOrClose = new ReentrantLock();
  private final Resources resources;
  // Set once while starting, read by the admin, metrics and failover threads started after them,
  // and by callers on other threads (status, linkConnected): volatile for the latter.
  private volatile Peer peer;
  private volatile SiteStatusView view;
  private volatile StandbyPromoter promoter;
  private volatile Switchover switchover;
  private volatile Failback failback;
  private volatile AdminServer admin;
  private volatile SiteRecovery recovery;
  private volatile int nbdPort;

  private final CompletableFuture<String> fatal = new CompletableFuture<>(); // see fatal()

  /** NBD payloads in flight: the site-wide share of the memory budget, common to all exports. */
  private final InFlightShare nbdShare;

  public Site(SiteConfig config, InstantSource clock) {
    this(config, clock, SystemTime.NANO);
  }

  /**
   * {@code clock} for timestamps and history times, {@code nanoClock} for durations and deadlines.
   */
  public Site(SiteConfig config, InstantSource clock, NanoClock nanoClock) {
    this.config = config;
    this.clock = clock;
    this.nanoClock = nanoClock;
    this.lifecycle = new LifeCycle("site " + config.siteId());
    this.resources = new Resources(nanoClock);
    this.nbdShare = new InFlightShare(config.memory().nbdInFlightBytes());
  }

  public SiteConfig config() {
    return config;
  }

  /**
   * Completes, with the reason, when this site has met a fault that only a restart heals (today: a
   * journal write failed inside RocksDB, whose log the next open replays). Completed on the thread
   * that met the fault: hand off, do not block. Never completes otherwise.
   */
  public CompletableFuture<String> fatal() {
    return fatal;
  }

  /** Starts every component in data-flow order; on any failure closes what started and rethrows. */
  public void start() {
    startOrClose.lock();
    try {
      lifecycle.transition(LifeCycle.State.NEW, LifeCycle.State.STARTING);
      startComponents();
      lifecycle.transition(LifeCycle.State.STARTING, LifeCycle.State.RUNNING);
    } catch (RuntimeException e) {
      close();
      throw e;
    } finally {
      startOrClose.unlock();
    }
  }

  private void startComponents() {
    SiteIdentity.verifyOrCreate(config.dataDir(), config.siteId());
    LOG.log(
        Level.INFO,
        "site {0}: {1}; JVM max heap {2} MiB",
        config.siteId(),
        config.memory().describe(),
        String.valueOf(Runtime.getRuntime().maxMemory() >> 20));
    // Role changes may begin while the rest starts (a switchover's takeover arrives over the link).
    PeerRole roles =
        new PeerRole(
            config, () -> lifecycle.current() == LifeCycle.State.STARTING || lifecycle.running());
    Journal journal =
        resources.add(
            "journal",
            Journal.open(
                JournalConfig.at(config.journalDir())
                    .withSpace(config.journal().reserveBytes(), config.journal().walBytes())
                    .withMemory(
                        config.memory().memtableBytes(),
                        config.memory().blockCacheBytes(),
                        config.memory().tailCacheBytesPerVolume(),
                        config.memory().volumeWriteBacklogBytes()),
                clock,
                nanoClock));
    journal.broken().thenAccept(f -> fatal.complete("the journal failed: " + f.getMessage()));
    ExecutorService reads =
        Executors.newFixedThreadPool(
            READ_THREADS, Thread.ofPlatform().name("kagami-read-", 0).daemon(true).factory());
    resources.push("read threads", reads::shutdownNow);
    Drills drills = resources.add("drills", new Drills(config.dataDir(), clock, reads));
    SiteMetrics metrics = null;
    if (config.metrics()) {
      metrics =
          resources.add(
              "metrics",
              new SiteMetrics(
                  this::status,
                  config.siteId(),
                  roles.role().label(),
                  config::peerSiteIdOf,
                  config.nToOne() ? config.peerSiteIds() : List.of(),
                  config.volumes()));
    }
    VolumeRuntimes runtimes =
        new VolumeRuntimes(
            config,
            clock,
            nanoClock,
            journal,
            reads,
            drills,
            metrics,
            resources,
            roles::discardDiverged);
    peer =
        new Peer(
            config, clock, roles, runtimes, PromotedPeers.read(config.dataDir(), config.siteId()));
    if (metrics != null) {
      metrics.wanLogDropped(peer::droppedWanLogLines);
      metrics.memory(
          config.memory(),
          new SiteMetrics.MemoryUse(
              nbdShare::usedBytes,
              nbdShare::waits,
              journal::tailCacheBytes,
              journal::rocksMemoryBytes,
              journal::afterCommitBacklogBytes,
              journal::lateAcknowledgements));
    }
    peer.open();
    // Its link closes after the NBD listener (pushed later, closed earlier): requests in flight at
    // shutdown still reach the standby, which a sync-mode write waits for.
    resources.push("WAN link", peer);
    StateObserver observer = new StateObserver(config, clock, peer, this::status);
    promoter = new StandbyPromoter(config, clock, nanoClock, peer, runtimes, drills, observer);
    switchover = new Switchover(config, clock, nanoClock, peer, drills, observer);
    failback = new Failback(config, clock, nanoClock, peer, observer);
    peer.onHandover(switchover);
    switchover.start();
    resources.push("switchover", switchover);
    // Heartbeats, witness lease, self-fencing and automatic failover; null without a failover
    // section.
    FailoverController failover = null;
    if (config.failover() != null) {
      failover =
          new FailoverController(
              config.failover(),
              config.siteId(),
              config.wan().peerSiteId(),
              config.dataDir(),
              clock,
              peer::role,
              peer::linkConnected,
              promoter::promoteAutomatically);
    }
    view = new SiteStatusView(config, peer, journal, drills, failover, () -> nbdPort);
    NbdExports nbd =
        new NbdExports(config.nbdListen(), exportedDevices(failover, metrics), nbdShare);
    nbd.start();
    nbdPort = nbd.port();
    resources.push("NBD listener", nbd);
    drills.attach(nbd);
    // A promoted standby has no standby of its own (its configuration names none): no link then.
    peer.startLink();
    HousekeepingAgent housekeeping = new HousekeepingAgent(config.siteId(), peer, drills, observer);
    housekeeping.start();
    resources.push("housekeeping", housekeeping);
    recovery =
        new SiteRecovery(
            config, clock, nanoClock, peer, drills, promoter, () -> nbdPort, this::volumeStates);
    recovery.start();
    resources.push("recovery", recovery);
    if (metrics != null) {
      RecoveryOrchestrator o = recovery.orchestrator();
      metrics.recovery(RecoveryOrchestrator.STATES, o::serverStates, o::lastDrillMillis);
    }
    startAdmin(failover, metrics, drills);
    if (failover != null) {
      failover.start();
      resources.push("failover controller", failover);
    }
    LOG.log(
        Level.INFO,
        "site {0} ({1}) started: nbd {2}, admin {3}, metrics {4}",
        config.siteId(),
        peer.role().label(),
        nbdAddress(),
        adminScheme() + "://" + adminAddress(),
        config.metrics() ? "on" : "off");
    observer.started();
  }

  /**
   * What the NBD listener serves: each volume's switchable export — behind the self-fencing write
   * gate with a failover section, as its members for a consistency group (replicated as one
   * volume), metered with metrics on (without them the NBD path runs on the bare devices).
   */
  private List<BlockDevice> exportedDevices(FailoverController failover, SiteMetrics metrics) {
    List<BlockDevice> devices = new ArrayList<>();
    for (Map.Entry<String, SwitchableDevice> e : peer.exports().entrySet()) {
      BlockDevice fenced =
          failover == null ? e.getValue() : new FencedDevice(e.getValue(), failover.writeFence());
      VolumeConfig vc = peer.volume(e.getKey()).config();
      List<BlockDevice> shown = new ArrayList<>();
      if (vc.group()) {
        for (VolumeConfig.Member m : vc.members()) {
          shown.add(new SliceDevice(m.name(), fenced, m.offset(), m.sizeBytes()));
        }
      } else {
        shown.add(fenced);
      }
      for (BlockDevice d : shown) {
        devices.add(metrics == null ? d : metrics.metered(d, config.siteId()));
      }
    }
    return devices;
  }

  private void startAdmin(FailoverController failover, SiteMetrics metrics, Drills drills) {
    admin =
        new AdminServer(
            config.adminListen(),
            this::status,
            metrics == null ? null : metrics::scrape,
            new PeerLinkControl(peer),
            this::promote);
    admin.action(
        "/switchover",
        body ->
            switchover(
                Duration.ofSeconds(
                    body.path("timeoutSeconds").asLong(DEFAULT_ROLE_TIMEOUT.toSeconds()))));
    admin.action("/failback", body -> failback());
    admin.peerPromotion(
        (name, force, volume, seq, at) ->
            promotePeerNow(
                name, force, RecoveryPoint.of(volume, seq, PointInTime.parseOrNull(at, clock))));
    admin.view("/recover/plan", this::recoveryPlan);
    admin.action("/recover", recovery::recover);
    admin.action("/recover/stop", body -> recovery.stop());
    admin.action("/recover/wait", recovery::await);
    admin.view("/recover/status", recovery::status);
    if (failover != null) {
      admin.failover(failover);
    }
    admin.drills(
        new SiteDrillControl(config, clock, peer, drills, promoter, this::status, () -> nbdPort));
    admin.action("/verify", body -> new VerifyControl(peer).start(body.path("volume").asText()));
    BearerToken token = AdminToken.loadOrCreate(config.adminTokenFile());
    admin.token(token);
    if (config.adminTls()) {
      admin.tls(io.kagami.site.auth.HttpTls.server(adminCredentials(config)));
    }
    admin.start();
    resources.push("admin server", admin);
    // Local CLIs of the same user find the token here (the port is the bound one: admin port 0 in
    // tests).
    Path published = AdminToken.publishedFile(System.getenv(), admin.port());
    if (AdminToken.publish(token, published)) {
      resources.push("published admin token", () -> AdminToken.unpublish(token, published));
    }
  }

  /**
   * Unplanned failover: this standby becomes the primary of every volume, from what it holds;
   * refused with the reason when it is a primary already or (without {@code force}) a replica is
   * inconsistent. See {@link StandbyPromoter#promote(boolean)}.
   */
  public Promotion promote(boolean force) {
    return requireStarted().promoter.promote(force);
  }

  /** Point-in-time failover: see {@link StandbyPromoter#promoteAt}. */
  public Promotion promote(boolean force, String volume, Long seq, Instant at) {
    return requireStarted().promoter.promoteAt(force, volume, seq, at);
  }

  /**
   * Promotes only primary {@code peer}'s volumes ({@code <peer>.*}) of an N:1 standby, as {@code
   * kagami promote --peer} does (see {@link StandbyPromoter#promotePeer}), from what they hold or
   * rolled back to {@code at}: they become writable exports in a new data generation, that primary
   * is refused as stale from then on, and every other primary keeps replicating. On a 1:1 standby
   * whose peer is {@code peer}, the whole-site promotion. Runs on a thread of its own; the future
   * completes with the {@link Promotion}, or exceptionally (cause: a {@link
   * Promotion.RefusedException} giving the reason, nothing changed).
   */
  public CompletableFuture<Promotion> promotePeer(
      String peer, Optional<RecoveryPoint> at, boolean force) {
    return CompletableFuture.supplyAsync(
        () -> promotePeerNow(peer, force, at.orElse(null)),
        r -> Thread.ofPlatform().name("kagami-promote-" + peer).daemon(true).start(r));
  }

  /** {@link #promotePeer(String, Optional, boolean)} without force. */
  public CompletableFuture<Promotion> promotePeer(String peer, Optional<RecoveryPoint> at) {
    return promotePeer(peer, at, false);
  }

  /** {@link #promotePeer(String, Optional, boolean)} on the caller's thread. */
  private Promotion promotePeerNow(String name, boolean force, RecoveryPoint at) {
    return requireStarted().promoter.promotePeer(name, force, at);
  }

  /** Planned switchover, run on the primary: see {@link Switchover#run}. Returns what to report. */
  public Map<String, Object> switchover(Duration timeout) {
    return requireStarted().switchover.run(timeout).toJson();
  }

  /**
   * Failback in place, run on an old primary: see {@link Failback#run()}. Returns what to report.
   */
  public Map<String, Object> failback() {
    return requireStarted().failback.run().toJson();
  }

  /**
   * Failback prepared while the site is stopped, so that {@code kagami run} starts it as the
   * standby of its peer; returns what to tell the operator. See {@link Failback#markWhileStopped}.
   */
  public static String markForFailback(SiteConfig config, InstantSource clock) {
    return Failback.markWhileStopped(config, clock);
  }

  /** This site, once started and until it closes; refuses role changes otherwise. */
  private Site requireStarted() {
    LifeCycle.State s = lifecycle.current();
    if (s != LifeCycle.State.RUNNING && s != LifeCycle.State.STARTING) {
      throw new Promotion.RefusedException(
          "site "
              + config.siteId()
              + " is "
              + (s == LifeCycle.State.NEW ? "not started" : "shutting down"));
    }
    return this;
  }

  /** The snapshot {@code GET /status} and {@code kagami status} show. */
  public SiteStatus status() {
    SiteStatusView v = view;
    if (v == null) {
      throw new IllegalStateException(
          "site " + config.siteId() + " is not started: it has no status yet");
    }
    return v.status();
  }

  /** True once a primary's link is up (a standby: once a primary is connected). */
  public boolean linkConnected() {
    Peer p = peer;
    return p != null && p.linkConnected();
  }

  /**
   * {@code kagami recover plan}: the recovery profiles read afresh, checked against this machine
   * and the volumes' states now. Reads only.
   */
  public RecoveryPlan recoveryPlan() {
    return requireStarted().recovery.plan(RecoveryProfilesLoader.load(config.recoveryFile()));
  }

  private Map<String, String> volumeStates() {
    Map<String, String> states = new HashMap<>();
    status().volumes().forEach(v -> states.put(v.name(), v.state().label()));
    return states;
  }

  public String nbdAddress() {
    return config.nbdListen().host() + ":" + (nbdPort == 0 ? config.nbdListen().port() : nbdPort);
  }

  /**
   * What the admin port presents over HTTPS: {@code admin.certificate}/{@code admin.privateKey}
   * when given, else the site's WAN identity (the same files {@link SiteLink} loads).
   */
  private static io.kagami.wan.tls.SiteCredentials adminCredentials(SiteConfig config) {
    if (config.adminCertificate() != null) {
      return io.kagami.wan.tls.SiteCredentials.load(
          config.adminPrivateKey(), config.adminCertificate());
    }
    return config.wan().certificate() != null
        ? io.kagami.wan.tls.SiteCredentials.load(
            config.wan().privateKey(), config.wan().certificate())
        : io.kagami.wan.tls.SiteCredentials.loadOrCreate(config.tlsDir(), config.siteId());
  }

  /** {@code https} or {@code http}: how the admin port is reached. */
  public String adminScheme() {
    return config.adminTls() ? "https" : "http";
  }

  public String adminAddress() {
    return config.adminListen().host()
        + ":"
        + (admin == null ? config.adminListen().port() : admin.port());
  }

  /**
   * Releases everything in reverse order of acquisition, after a role change under way has ended or
   * {@link #SHUTDOWN_ROLE_PATIENCE} passed; the whole close is bounded by {@link #SHUTDOWN_BUDGET}
   * as far as each component bounds its own waits. Logs every failure, and one line saying how long
   * the close took and what it waited for. Idempotent.
   */
  @Override
  public void close() {
    startOrClose.lock();
    try {
      if (!lifecycle.beginClose()) {
        return;
      }
      long start = nanoClock.nanoTime();
      Deadline deadline = Deadline.after(nanoClock, SHUTDOWN_BUDGET);
      Duration patience = deadline.within(SHUTDOWN_ROLE_PATIENCE).remaining();
      if (peer != null && !peer.roles().awaitRoleChanges(patience)) {
        LOG.log(
            Level.WARNING,
            "site {0}: a role change was still under way after {1} ms; closing under it (it fails"
                + " and the role stays as last recorded; writes it did not acknowledge are not"
                + " lost, they were never acknowledged)",
            config.siteId(),
            Long.toString(patience.toMillis()));
      }
      Resources.Closed closed = resources.closeAll(deadline);
      for (Exception e : closed.failures()) {
        LOG.log(Level.WARNING, "site " + config.siteId() + ": error while closing", e);
      }
      lifecycle.transition(LifeCycle.State.CLOSING, LifeCycle.State.CLOSED);
      LOG.log(
          Level.INFO,
          "site {0} closed in {1} ms; waited for: {2}",
          config.siteId(),
          Long.toString(nanoClock.nanosSince(start) / 1_000_000),
          closed.waitedFor(WORTH_NAMING));
    } finally {
      startOrClose.unlock();
    }
  }
}
