package io.kagami.site.failover;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;
import io.kagami.failover.FailoverConfig;
import io.kagami.site.admin.FailoverControl;
import io.kagami.site.config.FailoverSettings;
import io.kagami.site.config.Role;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * A site's automatic failover, assembled: builds the parts, runs their schedule on one thread
 * ({@code kagami-failover}) and closes them in reverse order. It decides nothing itself:
 *
 * <ul>
 *   <li>{@link PolicyDriver}: the pure {@code FailoverPolicy} behind one lock; decides every {@link
 *       #checkInterval()}, publishes the {@link WriteFence}, follows role changes by hand;
 *   <li>{@link HeartbeatSender}: the second heartbeat path, {@code POST /heartbeat} to the peer's
 *       admin port every heartbeat interval (the first is the WAN link being connected);
 *   <li>{@link LeaseClient}: renewals (every heartbeat interval while the policy holds the lease;
 *       the send instant is the evidence), claims and releases at the witness;
 *   <li>{@link MonitorProber}: the primary's application monitors, every {@code monitorInterval};
 *   <li>{@link FailoverActions}: claim, fence agent, promotion, step-down, one at a time on {@code
 *       kagami-failover-action};
 *   <li>{@link FailoverStatusView}: the {@code failover} part of the status.
 * </ul>
 *
 * <p>Nothing scheduled on {@code kagami-failover} blocks: requests are asynchronous, probes run on
 * virtual threads, actions on their own thread; so a hung witness, peer or fence agent never delays
 * a decision. Self-fencing: {@link FencedDevice} checks the fence's deadline for every write, so
 * writes stop when the lease evidence runs out, not a tick later.
 *
 * <p>Automatic failover: the standby claims the lease only after the peer has been silent on every
 * path for {@code peerLostAfter}, runs the fence agent (if configured) and waits for its success,
 * then promotes through {@link Promoter} (the site's ordinary promotion). Never in maintenance
 * mode. A site promoted by hand while automatic failover is on claims the lease before it writes.
 */
public final class FailoverController implements AutoCloseable, FailoverControl {
  private static final System.Logger LOG = System.getLogger(FailoverController.class.getName());

  /**
   * Promotes the site (its ordinary promotion, not forced); throws {@code
   * Promotion.RefusedException} with the reason.
   */
  public interface Promoter {
    Object promote();
  }

  private final FailoverSettings settings;
  private final FailoverConfig config;
  private final String siteId;
  private final Duration checkInterval;
  private final PolicyDriver driver;
  private final LeaseClient lease;
  private final HeartbeatSender heartbeats;
  private final MonitorProber monitors;
  private final FailoverActions actions;
  private final FailoverStatusView view;
  private volatile ScheduledExecutorService timer;
  private volatile boolean closed;

  public FailoverController(
      FailoverSettings settings,
      String siteId,
      String peerSiteId,
      Path dataDir,
      InstantSource wall,
      Supplier<Role> siteRole,
      BooleanSupplier wanConnected,
      Promoter promoter) {
    this(
        settings,
        siteId,
        peerSiteId,
        dataDir,
        wall,
        SystemTime.NANO,
        siteRole,
        wanConnected,
        promoter);
  }

  /** {@code nanos}: the monotonic clock lease evidence and silences are measured on. */
  public FailoverController(
      FailoverSettings settings,
      String siteId,
      String peerSiteId,
      Path dataDir,
      InstantSource wall,
      NanoClock nanos,
      Supplier<Role> siteRole,
      BooleanSupplier wanConnected,
      Promoter promoter) {
    this.settings = settings;
    this.config = settings.policy();
    this.siteId = siteId;
    long quarter = config.heartbeatInterval().toMillis() / 4;
    this.checkInterval = Duration.ofMillis(Math.max(20, Math.min(250, quarter)));
    MonotonicClock clock = new MonotonicClock(wall, nanos);
    Duration requestTimeout = config.heartbeatInterval().multipliedBy(2);
    this.driver =
        new PolicyDriver(
            config,
            siteId,
            peerSiteId,
            dataDir,
            clock,
            new DecisionLog(siteId, wall),
            siteRole,
            wanConnected);
    this.lease = new LeaseClient(settings, siteId, requestTimeout, clock, nanos);
    this.heartbeats =
        new HeartbeatSender(
            settings.peerAdmin(),
            settings.peerAdminCertificate(),
            requestTimeout,
            driver::ownHeartbeat,
            driver::hear);
    this.monitors = new MonitorProber(config.monitors(), driver::probing, driver::onProbe);
    this.actions =
        new FailoverActions(
            config, siteId, peerSiteId, driver, lease, promoter, nanos, this::decideSoon);
    this.view =
        new FailoverStatusView(
            config.autoFailover(), checkInterval, driver, lease, heartbeats, actions);
    driver.attach(actions, lease);
  }

  /** The gate every export of this site is put behind ({@link FencedDevice}). */
  public WriteFence writeFence() {
    return driver.writeFence();
  }

  public Duration checkInterval() {
    return checkInterval;
  }

  /**
   * Opens the witness client and the heartbeat path, starts the action thread, then the schedule.
   */
  public void start() {
    lease.start();
    heartbeats.start();
    monitors.start();
    actions.start();
    ScheduledExecutorService t =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("kagami-failover").daemon(true).factory());
    timer = t;
    long hb = config.heartbeatInterval().toMillis();
    t.scheduleWithFixedDelay(
        guarded("decide", driver::tick), 0, checkInterval.toMillis(), TimeUnit.MILLISECONDS);
    t.scheduleAtFixedRate(guarded("heartbeat", heartbeats::send), 0, hb, TimeUnit.MILLISECONDS);
    t.scheduleAtFixedRate(guarded("renew", driver::renewLease), 0, hb, TimeUnit.MILLISECONDS);
    if (!config.monitors().isEmpty()) {
      t.scheduleAtFixedRate(
          guarded("monitors", monitors::probeAll),
          0,
          settings.monitorInterval().toMillis(),
          TimeUnit.MILLISECONDS);
    }
    LOG.log(
        Level.INFO,
        "site {0}: failover controller started: automatic {1}, witness {2}, heartbeat paths {3}, peer admin {4}, heartbeat {5} ms, peerLostAfter {6} ms, selfFenceAfter {7} ms, lease {8} ms, fence agent {9}, maintenance {10}",
        siteId,
        config.autoFailover() ? "ON" : "off",
        settings.witnessDescription(),
        config.heartbeatPaths(),
        settings.peerAdmin(),
        hb,
        config.peerLostAfter().toMillis(),
        config.selfFenceAfter().toMillis(),
        config.lease().toMillis(),
        config.fence() == null ? "none" : config.fence().argv().getFirst(),
        driver.maintenance() ? "ON" : "off");
  }

  /** A decision right away on {@code kagami-failover} (an action step succeeded). */
  private void decideSoon() {
    ScheduledExecutorService t = timer;
    if (t != null && !closed) {
      t.execute(guarded("decide", driver::tick));
    }
  }

  /**
   * A scheduled task that stops after close and logs a failure instead of cancelling its schedule.
   */
  private Runnable guarded(String what, Runnable r) {
    return () -> {
      if (closed) {
        return;
      }
      try {
        r.run();
      } catch (RuntimeException e) {
        LOG.log(Level.ERROR, "site " + siteId + ": failover " + what + " failed", e);
      }
    };
  }

  // ------------------------------------------------------------------ admin surface

  @Override
  public byte[] heartbeat(byte[] body) {
    return HeartbeatMessage.encode(driver.answer(HeartbeatMessage.decode(body)));
  }

  @Override
  public Object maintenance(Boolean on) {
    return driver.maintenance(on);
  }

  /** The {@code failover} part of the site's status. */
  public FailoverStatus status() {
    return view.status();
  }

  /**
   * Stops the schedule, then the actions (waiting a moment), probes, heartbeats and the witness
   * client.
   */
  @Override
  public void close() {
    closed = true;
    ScheduledExecutorService t = timer;
    if (t != null) {
      t.shutdownNow();
    }
    actions.close();
    monitors.close();
    heartbeats.close();
    lease.close();
  }
}
