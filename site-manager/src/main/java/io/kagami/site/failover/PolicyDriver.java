package io.kagami.site.failover;

import io.kagami.failover.Decision;
import io.kagami.failover.FailoverConfig;
import io.kagami.failover.FailoverPolicy;
import io.kagami.failover.fence.FenceResult;
import io.kagami.failover.heartbeat.Heartbeat;
import io.kagami.failover.heartbeat.HeartbeatTracker;
import io.kagami.failover.monitor.MonitorTracker;
import io.kagami.failover.monitor.ProbeResult;
import io.kagami.site.config.FailoverSettings;
import io.kagami.site.config.Role;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The site's {@link FailoverPolicy} and the one lock around it: feeds it every observation (the WAN
 * link's state, the peer's heartbeats, lease answers, probe results, action outcomes), asks it for
 * a decision every tick and hands the decision to {@link FailoverActions}, and publishes the
 * primary's lease evidence to the {@link WriteFence} after every decision and every lease answer.
 * It also follows the site's role when it changes by hand (promote, switchover, failback) and keeps
 * the term and maintenance mode in {@link FailoverStateFile}.
 *
 * <p>Threads: {@link #tick()} and {@link #renewLease()} run on {@code kagami-failover};
 * observations arrive on HTTP client threads, the admin server's threads and the action thread.
 * Each call takes the lock for a few field updates and never does network I/O under it; the only
 * blocking under the lock is the small durable write of the state file when the term or maintenance
 * mode changes.
 *
 * <p>One role: the one lock around the policy. Every method is an observation fed in, or a decision
 * taken out, under that lock; moving any of them out would need a second lock.
 */
final class PolicyDriver {
  private static final System.Logger LOG = System.getLogger(PolicyDriver.class.getName());

  /** What the status shows of the policy, read under the lock at one instant. */
  record Snapshot(
      Decision decision,
      boolean primary,
      long term,
      boolean fenced,
      String fencedReason,
      Double writesAllowedForSeconds,
      boolean maintenance,
      boolean peerAnnouncedMaintenance,
      List<FailoverStatus.Path> paths,
      List<FailoverStatus.Monitor> monitors,
      List<FailoverStatus.DecisionChange> recentDecisions) {}

  private final FailoverConfig config;
  private final String siteId;
  private final String peerSiteId;
  private final Path dataDir;
  private final MonotonicClock clock;
  private final Supplier<Role> siteRole;
  private final BooleanSupplier wanConnected;
  private final WriteFence fence;
  private final DecisionLog decisions;
  private final Object lock = new Object();

  // guarded by lock
  private FailoverPolicy policy;
  private boolean maintenance;
  private boolean promotingOurselves;
  private boolean claimAfterManualPromotion;

  /**
   * The term of a lease to release at the witness: this primary stepped down in place (switchover,
   * failback); 0 = none.
   */
  private long releaseAfterDemotion;

  private boolean fencedLogged;
  private boolean shortLeaseWarned;
  private CompletableFuture<?> renewal = CompletableFuture.completedFuture(null);
  private FailoverActions actions;
  private LeaseClient lease;

  PolicyDriver(
      FailoverConfig config,
      String siteId,
      String peerSiteId,
      Path dataDir,
      MonotonicClock clock,
      DecisionLog decisions,
      Supplier<Role> siteRole,
      BooleanSupplier wanConnected) {
    this.config = config;
    this.siteId = siteId;
    this.peerSiteId = peerSiteId;
    this.dataDir = dataDir;
    this.clock = clock;
    this.decisions = decisions;
    this.siteRole = siteRole;
    this.wanConnected = wanConnected;
    Role role = siteRole.get();
    FailoverStateFile state;
    try {
      state = FailoverStateFile.read(dataDir, role == Role.PRIMARY ? 1 : 0);
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException(
          "site "
              + siteId
              + ": cannot read "
              + dataDir.resolve(FailoverStateFile.FILE)
              + ": "
              + e.getMessage(),
          e);
    }
    this.maintenance = state.maintenance();
    this.policy =
        role == Role.PRIMARY
            ? FailoverPolicy.primary(config, siteId, Math.max(1, state.term()), clock)
            : FailoverPolicy.standby(config, siteId, state.term(), clock);
    policy.setMaintenance(maintenance);
    this.fence =
        new WriteFence(
            "no lease evidence yet (the witness has not renewed this primary's lease and the standby has not answered a heartbeat)",
            clock.nanos());
    if (!config.autoFailover()) {
      fence.openUnlimited();
    }
  }

  WriteFence writeFence() {
    return fence;
  }

  boolean maintenance() {
    synchronized (lock) {
      return maintenance;
    }
  }

  /** Connects the driver to what carries out its decisions; before the first tick. */
  void attach(FailoverActions actionRunner, LeaseClient leaseClient) {
    synchronized (lock) {
      this.actions = actionRunner;
      this.lease = leaseClient;
    }
  }

  // ------------------------------------------------------------------ deciding (kagami-failover)

  void tick() {
    synchronized (lock) {
      followSiteRole();
      if (wanConnected.getAsBoolean()) {
        policy.onHeartbeat(FailoverSettings.PATH_WAN, wanHeartbeat());
      }
      Decision d = policy.decide();
      if (d instanceof Decision.RequestPromotion && policy.heartbeats().lastHeardAny() == null) {
        // A standby that never heard its primary since it started (both sites booting, or the
        // standby restarted alone) has seen nobody die: it must not take the lease on its own.
        d =
            new Decision.Suppressed(
                "the primary was never heard since this site started ("
                    + policy.heartbeats().describe()
                    + "): no automatic failover from a standby that has not seen its primary; promote by hand if the primary is gone");
      }
      publishFence();
      decisions.record(d, policy.term());
      if (actions == null || !actions.ready()) {
        return;
      }
      if (releaseAfterDemotion > 0) {
        long term = releaseAfterDemotion;
        releaseAfterDemotion = 0;
        actions.releaseAfterDemotion(term);
        return;
      }
      if (claimAfterManualPromotion) {
        actions.claimAfterManualPromotion();
        return;
      }
      switch (d) {
        case Decision.RequestPromotion r -> {
          policy.onClaimSent();
          actions.claim(r.knownTerm());
        }
        case Decision.Fence f -> actions.fence(f.term());
        case Decision.Promote p -> {
          promotingOurselves = true;
          actions.promote(p);
        }
        case Decision.StepDown s -> actions.stepDown(s);
        case Decision.Stay s -> {}
        case Decision.SelfFence s -> {}
        case Decision.Suppressed s -> {}
      }
    }
  }

  /**
   * The WAN path proves only that the peer's process holds the link; it carries no heartbeat of its
   * own, so it repeats the newest one heard on another path (or an empty one, older than any real).
   */
  private Heartbeat wanHeartbeat() {
    Heartbeat latest = policy.heartbeats().latest();
    return latest != null
        ? latest
        : new Heartbeat(
            peerSiteId, 0, false, false, false, Instant.EPOCH, null, config.peerLostAfter());
  }

  /**
   * Guarded by lock. A site promoted by hand (kagami promote) runs the primary's policy; with
   * automatic failover on it claims the lease first.
   */
  private void followSiteRole() {
    if (siteRole.get() == Role.STANDBY
        && policy.role() == FailoverPolicy.Role.PRIMARY
        && !promotingOurselves) {
      // Stepped down in place (switchover, failback): give the lease back at once, so the new
      // primary is granted it now rather than after the lease and its margin run out.
      long term = policy.term();
      if (policy.holdsLease() && config.autoFailover()) {
        releaseAfterDemotion = term;
      }
      claimAfterManualPromotion = false;
      policy = FailoverPolicy.standby(config, siteId, term, clock);
      policy.setMaintenance(maintenance);
      LOG.log(
          Level.INFO,
          "site {0}: now a standby (role changed in place): failover policy runs as standby at term {1}",
          siteId,
          term);
      return;
    }
    if (siteRole.get() != Role.PRIMARY
        || policy.role() != FailoverPolicy.Role.STANDBY
        || promotingOurselves) {
      return;
    }
    long term = Math.max(1, policy.term());
    policy = FailoverPolicy.primary(config, siteId, term, clock);
    policy.setMaintenance(maintenance);
    if (config.autoFailover()) {
      claimAfterManualPromotion = true;
      fence.close(
          "promoted by hand or switched over: claiming the lease at the witness before acknowledging writes");
      LOG.log(
          Level.WARNING,
          "site {0}: became the primary by hand (promote or switchover) while automatic failover is on: claiming the lease at the witness (term above {1}) before acknowledging writes",
          siteId,
          term);
    } else {
      LOG.log(
          Level.INFO, "site {0}: promoted by hand: failover policy now runs as primary", siteId);
    }
  }

  /** Guarded by lock. */
  private void publishFence() {
    if (!config.autoFailover()) {
      fence.openUnlimited();
    } else if (claimAfterManualPromotion) {
      fence.close(
          "promoted by hand: claiming the lease at the witness before acknowledging writes");
    } else if (policy.mayAcknowledgeWrites()) {
      Instant until = policy.writesAllowedUntil();
      fence.allowUntil(
          clock.nanoTimeOf(until),
          "lease evidence ran out (no witness renewal and no heartbeat echo from "
              + peerSiteId
              + " for selfFenceAfter "
              + config.selfFenceAfter().toMillis()
              + " ms)");
    } else {
      Decision d = policy.decide();
      fence.close(policy.role() == FailoverPolicy.Role.PRIMARY ? d.reason() : "standby");
    }
    boolean fenced = policy.role() == FailoverPolicy.Role.PRIMARY && !fence.open();
    if (fenced && !fencedLogged) {
      LOG.log(
          Level.ERROR,
          "site {0}: ALERT writes fenced (not acknowledged, EIO): {1}",
          siteId,
          fence.reason());
      fencedLogged = true;
    } else if (!fenced && fencedLogged && policy.role() == FailoverPolicy.Role.PRIMARY) {
      LOG.log(
          Level.WARNING,
          "site {0}: writes unfenced: lease evidence regained at term {1}",
          siteId,
          policy.term());
      fencedLogged = false;
    }
  }

  // ------------------------------------------------------------------ lease renewals
  // (kagami-failover)

  /**
   * Renews the lease while the policy holds it, one request at a time; the answer arrives later.
   */
  void renewLease() {
    synchronized (lock) {
      if (lease == null
          || !lease.configured()
          || !policy.holdsLease()
          || claimAfterManualPromotion
          || !renewal.isDone()) {
        return;
      }
      renewal = lease.renew(policy.term()).thenAccept(this::onRenewAnswer);
    }
  }

  private void onRenewAnswer(LeaseClient.Answer a) {
    if (a.reply() == null) {
      return; // no answer: the evidence simply is not extended (the client kept the error)
    }
    synchronized (lock) {
      policy.onRenewReply(a.reply(), a.sentAt());
      publishFence();
      if (a.reply().granted()
          && a.reply().leaseMillis() <= config.selfFenceAfter().toMillis()
          && !shortLeaseWarned) {
        shortLeaseWarned = true;
        LOG.log(
            Level.WARNING,
            "site {0}: the witness grants {1} ms leases, not longer than failover.selfFenceAfter {2} ms: lease evidence is cut to the witness''s lease; align failover.lease with the witness''s --lease",
            siteId,
            a.reply().leaseMillis(),
            config.selfFenceAfter().toMillis());
      }
    }
  }

  // ------------------------------------------------------------------ heartbeats and probes

  /** This site's heartbeat now (for the peer). */
  Heartbeat ownHeartbeat() {
    synchronized (lock) {
      return policy.heartbeat();
    }
  }

  /**
   * The peer's heartbeat on the admin path; throws IllegalArgumentException when it is not from the
   * peer.
   */
  void hear(Heartbeat peer) {
    synchronized (lock) {
      hearLocked(peer);
    }
  }

  /** Records the peer's heartbeat and answers with this site's, at one instant. */
  Heartbeat answer(Heartbeat peer) {
    synchronized (lock) {
      hearLocked(peer);
      return policy.heartbeat();
    }
  }

  private void hearLocked(Heartbeat peer) {
    if (!peer.siteId().equals(peerSiteId)) {
      throw new IllegalArgumentException(
          "heartbeat from site \""
              + peer.siteId()
              + "\", but this site's peer is \""
              + peerSiteId
              + "\"");
    }
    Heartbeat h = peer;
    if (h.echo() != null && h.echo().isAfter(clock.instant())) {
      // An echo from the future was not sent by this process (a clock anchor of an earlier run): no
      // evidence.
      h =
          new Heartbeat(
              h.siteId(),
              h.term(),
              h.primary(),
              h.plannedStop(),
              h.steppedDown(),
              h.sentAt(),
              null,
              h.lostAfter());
    }
    policy.onHeartbeat(FailoverSettings.PATH_ADMIN, h);
    publishFence();
  }

  /** Whether application monitors are probed now (only a primary's). */
  boolean probing() {
    synchronized (lock) {
      return policy.role() == FailoverPolicy.Role.PRIMARY;
    }
  }

  void onProbe(ProbeResult r) {
    synchronized (lock) {
      if (policy.role() == FailoverPolicy.Role.PRIMARY) {
        policy.onProbe(r);
      }
    }
  }

  // ------------------------------------------------------------------ action outcomes
  // (kagami-failover-action)

  long term() {
    synchronized (lock) {
      return policy.term();
    }
  }

  /** A failover claim's answer; true when the lease was granted (the term is then recorded). */
  boolean onClaimAnswer(LeaseClient.Answer a) {
    synchronized (lock) {
      policy.onClaimReply(a.reply(), a.sentAt());
      if (a.granted()) {
        persistLocked();
      }
      return a.granted();
    }
  }

  void onFenceResult(FenceResult result) {
    synchronized (lock) {
      policy.onFenceResult(result);
    }
  }

  void onPromoted() {
    synchronized (lock) {
      policy.onPromoted();
      promotingOurselves = false;
      publishFence();
    }
  }

  void onPromotionRefused() {
    synchronized (lock) {
      promotingOurselves = false;
    }
  }

  void onSteppedDown() {
    synchronized (lock) {
      policy.onSteppedDown();
      publishFence();
    }
  }

  /** The claim of a site promoted by hand; true when granted to it (it may then write). */
  boolean onManualPromotionClaim(LeaseClient.Answer answer) {
    synchronized (lock) {
      if (answer.granted() && siteId.equals(answer.reply().holder())) {
        policy = FailoverPolicy.primary(config, siteId, answer.reply().term(), clock);
        policy.setMaintenance(maintenance);
        policy.onRenewReply(answer.reply(), answer.sentAt());
        claimAfterManualPromotion = false;
        persistLocked();
        publishFence();
        return true;
      }
      return false;
    }
  }

  void persist() {
    synchronized (lock) {
      persistLocked();
    }
  }

  /** Guarded by lock. */
  private void persistLocked() {
    try {
      new FailoverStateFile(policy.term(), maintenance).write(dataDir);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "site "
              + siteId
              + ": cannot record the failover state in "
              + dataDir.resolve(FailoverStateFile.FILE)
              + ": "
              + e.getMessage(),
          e);
    }
  }

  // ------------------------------------------------------------------ operator surface

  /** Turns maintenance mode on or off (persisted), or only reports it when {@code on} is null. */
  Map<String, Object> maintenance(Boolean on) {
    synchronized (lock) {
      if (on != null && on != maintenance) {
        maintenance = on;
        policy.setMaintenance(on);
        persistLocked();
        LOG.log(
            Level.WARNING,
            "site {0}: maintenance mode {1}: {2}",
            siteId,
            on ? "ON" : "off",
            on
                ? "no automatic failover from this site, and the peer is told so in every heartbeat"
                : "automatic failover allowed again");
      }
      return Map.of(
          "siteId", siteId, "maintenance", maintenance, "automatic", config.autoFailover());
    }
  }

  Snapshot snapshot() {
    synchronized (lock) {
      Decision d = decisions.current() == null ? policy.decide() : decisions.current();
      boolean primary = policy.role() == FailoverPolicy.Role.PRIMARY;
      // The site's role, not the policy's: right after a role change in place the policy follows
      // at its next tick, and the gate is closed until then.
      boolean fenced = siteRole.get() == Role.PRIMARY && !fence.open();
      Instant until = config.autoFailover() && primary ? policy.writesAllowedUntil() : null;
      Double left =
          until == null
              ? null
              : Math.max(0, Duration.between(clock.instant(), until).toMillis()) / 1000.0;
      Heartbeat latest = policy.heartbeats().latest();
      List<FailoverStatus.Path> paths = new ArrayList<>();
      for (HeartbeatTracker.PathStatus p : policy.heartbeats().paths()) {
        paths.add(
            new FailoverStatus.Path(
                p.path(), p.alive(), p.lastHeard() != null, p.silentFor().toMillis() / 1000.0));
      }
      List<FailoverStatus.Monitor> monitors = new ArrayList<>();
      for (MonitorTracker.MonitorStatus m : policy.monitors().status()) {
        monitors.add(
            new FailoverStatus.Monitor(
                m.name(),
                m.consecutiveFailures(),
                m.last() == null ? null : m.last().healthy(),
                m.last() == null ? null : m.last().detail()));
      }
      return new Snapshot(
          d,
          primary,
          policy.term(),
          fenced,
          fenced ? fence.reason() : null,
          left,
          maintenance,
          latest != null && latest.plannedStop(),
          paths,
          monitors,
          decisions.recent());
    }
  }
}
