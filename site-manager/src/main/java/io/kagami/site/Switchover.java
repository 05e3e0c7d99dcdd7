package io.kagami.site;

import io.kagami.clock.NanoClock;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import io.kagami.wan.ship.HandoverException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Planned switchover, both sides of it. On the primary, {@link #run} stops writes, waits until the
 * standby holds every one, hands over in-band and turns this site into the standby; on the standby,
 * the {@link SiteLink.Takeover} it offers to the receiver checks and records the handover and then
 * turns this site into the primary. Zero writes are lost: the new primary starts from exactly the
 * old one's last seq.
 *
 * <p>Threads: {@link #run} runs on the admin HTTP thread that asked for it; the standby's side runs
 * on this class's own thread {@code kagami-role} (off the network threads), started by {@link
 * #start()} and stopped by {@link #close()}. Both hold the peer's role-change lock throughout and
 * wait only on futures bounded by the switchover's deadline: the exports' in-flight writes, the
 * standby's durable point ({@code JournalShipSource.peerDurableThrough}), the handover's answer,
 * the volume files ({@code PrimaryVolume.appliedThrough}), the new primary dialing back. Several
 * peers: a switchover names one peer and turns only its volumes, link and role.
 */
final class Switchover implements SiteLink.Takeover, AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Switchover.class.getName());

  /** At most this long for the new primary to dial back before a switchover reports done anyway. */
  private static final Duration DIAL_BACK_WAIT = Duration.ofSeconds(15);

  private final SiteConfig config;
  private final InstantSource clock;
  private final NanoClock nanoClock;
  private final Peer peer;
  private final Drills drills;
  private final StateObserver observer;
  private ExecutorService roleWork;

  Switchover(
      SiteConfig config,
      InstantSource clock,
      NanoClock nanoClock,
      Peer peer,
      Drills drills,
      StateObserver observer) {
    this.config = config;
    this.clock = clock;
    this.nanoClock = nanoClock;
    this.peer = peer;
    this.drills = drills;
    this.observer = observer;
  }

  synchronized void start() {
    if (roleWork != null) {
      throw new IllegalStateException(
          "the switchover thread of site " + config.siteId() + " is started already");
    }
    roleWork =
        Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("kagami-role").daemon(true).factory());
  }

  /** What a switchover reports (the admin surface's JSON, field for field). */
  record Done(
      String site, String primary, Map<String, Long> endSeqs, boolean replicating, long millis) {
    Map<String, Object> toJson() {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("site", site);
      out.put("role", Role.STANDBY.label());
      out.put("primary", primary);
      out.put("endSeqs", endSeqs);
      out.put("replicating", replicating);
      out.put("millis", millis);
      return out;
    }
  }

  /**
   * Run on the primary: stops taking writes, waits until the standby holds every one of them,
   * records this site as the standby, tells the standby to take over (in-band, after the last
   * write), and becomes the standby of the new primary. Refused, with nothing changed, when the
   * link is down, a volume is being resynchronized, or the standby does not catch up in time.
   */
  Done run(Duration timeout) {
    return peer.roles().whileLocked("the switchover", timeout, () -> runLocked(timeout));
  }

  private Done runLocked(Duration timeout) {
    String peerId = peer.peerSiteId();
    if (peer.role() != Role.PRIMARY) {
      throw new Promotion.RefusedException(
          "site "
              + config.siteId()
              + " is a standby: run switchover against the primary ("
              + peerId
              + ")");
    }
    peer.roles().requireListen();
    SiteLink link = peer.link();
    if (!(link instanceof SiteLink.Primary primaryLink) || !link.status().connected()) {
      throw new Promotion.RefusedException(
          "the link to standby "
              + peerId
              + " is down; a switchover needs it up (if this site is lost, promote the standby instead)");
    }
    for (VolumeRuntime v : peer.volumes()) {
      if (v instanceof VolumeRuntime.Primary p
          && (p.backlog().needsResync() || p.source().resyncing())) {
        throw new Promotion.RefusedException(
            "volume "
                + v.name()
                + " is being resynchronized: the standby is not consistent yet; wait for it (kagami status) and retry");
      }
    }
    long start = nanoClock.nanoTime();
    Deadline deadline = Deadline.after(nanoClock, timeout);
    String calledOff = "; the switchover was called off and this site takes writes again";
    if (deadline.await(
            peer.fenceExports(
                "switchover to " + peerId + " in progress: this site is becoming the standby"))
        != Deadline.Outcome.DONE) {
      peer.unfenceExports();
      throw new Promotion.RefusedException(
          "writes were still in flight after " + timeout.toSeconds() + " s" + calledOff);
    }
    Map<String, Long> ends = new LinkedHashMap<>();
    for (VolumeRuntime v : peer.volumes()) {
      VolumeRuntime.Primary p = (VolumeRuntime.Primary) v;
      long end = p.device().stream().lastSeq();
      ends.put(v.name(), end);
      if (deadline.await(p.source().peerDurableThrough(end)) != Deadline.Outcome.DONE) {
        peer.unfenceExports();
        throw new Promotion.RefusedException(
            "standby "
                + peerId
                + " confirmed volume "
                + v.name()
                + " only through seq "
                + p.source().peerDurableSeq()
                + " of "
                + end
                + " within "
                + timeout.toSeconds()
                + " s"
                + calledOff);
      }
    }
    LOG.log(
        Level.INFO,
        "site {0}: switchover to {1}: writes stopped and drained at {2}",
        config.siteId(),
        peerId,
        ends);
    // Recorded before the standby hears of it: whatever happens next, this site never again takes
    // writes on its own (a crash now leaves two standbys, which one promote resolves, never two
    // primaries).
    peer.roles()
        .record(
            new RoleRecord(
                Role.STANDBY,
                clock.instant().toString(),
                RoleRecord.Cause.SWITCHOVER,
                "switchover to " + peerId,
                false));
    try {
      primaryLink.handover(ends).get(deadline.remaining().toMillis(), TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      String reason =
          e instanceof ExecutionException
              ? String.valueOf(e.getCause().getMessage())
              : e instanceof TimeoutException
                  ? "no answer in time"
                  : String.valueOf(e.getMessage());
      if (standbyRefused(e)) {
        // The standby answered no and changed nothing: this site stays the primary.
        peer.roles()
            .record(
                new RoleRecord(
                    Role.PRIMARY,
                    clock.instant().toString(),
                    RoleRecord.Cause.SWITCHOVER_CALLED_OFF,
                    "switchover called off",
                    false));
        peer.unfenceExports();
        throw new Promotion.RefusedException(
            "standby "
                + peerId
                + " refused the switchover: "
                + reason
                + "; this site stays the primary and takes writes again");
      }
      // Unknown whether the standby took over: stay out of the way (never two primaries).
      LOG.log(
          Level.ERROR,
          "site {0}: switchover to {1}: {2}; this site is now a standby",
          config.siteId(),
          peerId,
          reason);
      demote();
      throw new Promotion.RefusedException(
          "the standby did not confirm the switchover ("
              + reason
              + "); this site is now a standby. If "
              + peerId
              + " is not the primary (kagami status on it), run `kagami promote` on either site: both hold the same data");
    }
    CompletableFuture<Void> dialedBack = demote();
    // Done once the new primary dials back to us: it has taken over by then (it dials only after
    // turning primary), so hosts can reattach to it when this returns.
    boolean replicating =
        deadline.within(DIAL_BACK_WAIT).await(dialedBack) == Deadline.Outcome.DONE;
    long millis = nanoClock.nanosSince(start) / 1_000_000;
    LOG.log(
        Level.WARNING,
        "site {0}: SWITCHOVER done in {1} ms: {2} is the primary, this site its standby{3}",
        config.siteId(),
        millis,
        peerId,
        replicating ? "" : " (it has not connected back yet)");
    return new Done(config.siteId(), peerId, ends, replicating, millis);
  }

  /**
   * Whether the handover failed because the standby answered no (it changed nothing), rather than
   * not answering: decided on the shipper's typed {@link HandoverException.Kind}, never on text.
   */
  private static boolean standbyRefused(Exception e) {
    return e instanceof ExecutionException x
        && x.getCause() instanceof HandoverException h
        && h.kind() == HandoverException.Kind.REFUSED;
  }

  /**
   * This primary becomes a standby in place; returns the future of the new primary dialing back.
   */
  private CompletableFuture<Void> demote() {
    CompletableFuture<Void> dialedBack = peer.becomeStandbyInPlace(Site.DEFAULT_ROLE_TIMEOUT);
    observer.roleChanged(Role.PRIMARY, Map.of());
    return dialedBack;
  }

  // ---- the standby's side: SiteLink.Takeover, called on the receiver's event loop ----

  @Override
  public CompletableFuture<Void> handover(String site, Map<String, Long> endSeqs) {
    return CompletableFuture.runAsync(() -> acceptHandover(site, endSeqs), roleWork);
  }

  @Override
  public void handedOver(String site) {
    roleWork.execute(
        () -> {
          try {
            takeOver(site);
          } catch (RuntimeException e) {
            LOG.log(
                Level.ERROR,
                "site "
                    + config.siteId()
                    + ": taking over from "
                    + site
                    + " failed; it is recorded as primary and becomes one on restart",
                e);
          }
        });
  }

  /** Checks a switchover request against what this standby holds and records the new role. */
  private void acceptHandover(String site, Map<String, Long> endSeqs) {
    PeerRole roles = peer.roles();
    roles.whileLocked(
        "taking over from " + site,
        Site.DEFAULT_ROLE_TIMEOUT,
        () -> {
          if (peer.role() != Role.STANDBY) {
            throw new Promotion.RefusedException("site " + config.siteId() + " is not a standby");
          }
          if (config.wan().peer() == null) {
            throw new Promotion.RefusedException(
                "site "
                    + config.siteId()
                    + " has no wan.peer: as primary it could not replicate back to "
                    + site);
          }
          for (VolumeRuntime v : peer.volumes()) {
            VolumeRuntime.Standby r = (VolumeRuntime.Standby) v;
            Long end = endSeqs.get(v.name());
            long held = r.sink().lastDurableSeq();
            if (end == null || held != end || !r.sink().consistent()) {
              throw new Promotion.RefusedException(
                  "volume "
                      + v.name()
                      + " here holds seq "
                      + held
                      + (r.sink().consistent() ? "" : " (inconsistent)")
                      + ", the primary ends at "
                      + end);
            }
          }
          roles.record(
              new RoleRecord(
                  Role.PRIMARY,
                  clock.instant().toString(),
                  RoleRecord.Cause.SWITCHOVER,
                  "switchover from " + site,
                  false));
          LOG.log(
              Level.INFO,
              "site {0}: switchover from {1} accepted at {2}",
              config.siteId(),
              site,
              endSeqs);
        });
  }

  /** The old primary was told: become the primary in place and replicate back to it. */
  private void takeOver(String site) {
    PeerRole roles = peer.roles();
    roles.whileLocked(
        "taking over from " + site,
        Site.DEFAULT_ROLE_TIMEOUT,
        () -> {
          if (peer.role() == Role.PRIMARY) {
            return;
          }
          long start = nanoClock.nanoTime();
          drills.stopAll("the site takes over as primary in a switchover");
          peer.closeLink();
          peer.becomePrimary(false);
          drills.promoted();
          peer.startLink();
          LOG.log(
              Level.WARNING,
              "site {0}: SWITCHOVER: took over from {1} in {2} ms; now the primary, replicating to it",
              config.siteId(),
              site,
              nanoClock.nanosSince(start) / 1_000_000);
          observer.roleChanged(Role.STANDBY, Map.of());
        });
  }

  /**
   * Stops the {@code kagami-role} thread; a takeover not yet begun is dropped (the role record
   * stands).
   */
  @Override
  public synchronized void close() {
    if (roleWork != null) {
      roleWork.shutdownNow();
    }
  }
}
