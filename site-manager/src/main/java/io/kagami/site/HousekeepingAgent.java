package io.kagami.site;

import io.kagami.site.link.BandwidthControl;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A site's periodic upkeep, once per {@link #INTERVAL} on its own thread {@code
 * kagami-housekeeping}: the link's bandwidth schedule, the standby's history window, and per
 * primary volume the standby's durable point, the history overflow check, the volume file
 * checkpoint and the changed-region map; then one observation of the states ({@link
 * StateObserver}).
 *
 * <p>Each step's failure is logged and the next step still runs (a periodic task that threw would
 * end for good, silently). The per-volume steps hold the peer's volume lock, so they never work on
 * a volume a role change is turning; they block on disk (fsync of the volume file and the map), for
 * seconds at worst, which is why sync-mode timeouts run on another thread. {@link #doWork()} is the
 * tick itself: a test may call it by hand without {@link #start()}.
 *
 * <p>Several peers: one agent for the site, iterating each {@link Peer} in turn (a slow peer's
 * fsyncs then delay the others' checkpoints by a tick, never their writes).
 */
final class HousekeepingAgent implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(HousekeepingAgent.class.getName());
  static final Duration INTERVAL = VolumeRuntimes.CHECKPOINT_INTERVAL;

  /** How long close waits for a tick in progress (its fsyncs) to end. */
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(10);

  private final String siteId;
  private final Peer peer;
  private final Drills drills;
  private final StateObserver observer;
  private ScheduledExecutorService thread;

  HousekeepingAgent(String siteId, Peer peer, Drills drills, StateObserver observer) {
    this.siteId = siteId;
    this.peer = peer;
    this.drills = drills;
    this.observer = observer;
  }

  synchronized void start() {
    if (thread != null) {
      throw new IllegalStateException("housekeeping of site " + siteId + " is started already");
    }
    thread =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("kagami-housekeeping").daemon(true).factory());
    thread.scheduleWithFixedDelay(
        this::doWork, INTERVAL.toMillis(), INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** One tick; returns the number of volumes it worked on. Never throws. */
  int doWork() {
    // A promoted site may have no link (null): it must still checkpoint.
    SiteLink link = peer.link();
    BandwidthControl bandwidth = link == null ? null : link.bandwidth();
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
      LOG.log(Level.ERROR, "site " + siteId + ": trimming the standby history failed", e);
    }
    int[] worked = {0};
    peer.forEachVolumeLocked(
        v -> {
          try {
            if (v instanceof VolumeRuntime.Primary p) {
              p.device()
                  .heal(); // a volume file that ran out of space catches up once there is room
              p.source().persist();
              p.backlog().checkOverflow();
              p.checkpointer().doWork();
              p.backlog().persistIfChanged();
              SwitchableDevice export = peer.exports().get(v.name());
              if (export != null && peer.shippingConnected()) {
                // This second's verification points, through the export's fence: a role change
                // waits for them, so no point or checksum is journaled after its end seq. Only
                // while this site ships to a connected standby: points would otherwise only grow
                // the history it must catch up on (and the lag an operator watches), or, for a
                // peer promoted on an N:1 standby, a history no standby will ever read.
                p.verify().doWork(m -> export.verify(m, p.device()));
              }
              worked[0]++;
            }
          } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "volume " + v.name() + ": housekeeping failed", e);
          }
        });
    try {
      observer.observe();
    } catch (RuntimeException e) {
      LOG.log(Level.ERROR, "site " + siteId + ": state observation failed", e);
    }
    return worked[0];
  }

  /** Stops the ticks, waiting (bounded) for one in progress. Idempotent. */
  @Override
  public synchronized void close() {
    ScheduledExecutorService t = thread;
    if (t == null) {
      return;
    }
    t.shutdown();
    try {
      if (!t.awaitTermination(CLOSE_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
        LOG.log(
            Level.WARNING,
            "site {0}: a housekeeping tick was still running after {1} s; closing without it",
            siteId,
            CLOSE_WAIT.toSeconds());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // the caller is being stopped: close on without waiting
    }
  }
}
