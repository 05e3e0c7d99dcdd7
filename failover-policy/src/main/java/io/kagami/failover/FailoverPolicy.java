package io.kagami.failover;

import io.kagami.failover.fence.FenceResult;
import io.kagami.failover.heartbeat.Heartbeat;
import io.kagami.failover.heartbeat.HeartbeatTracker;
import io.kagami.failover.monitor.MonitorTracker;
import io.kagami.failover.monitor.ProbeResult;
import io.kagami.failover.witness.LeaseReply;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Objects;

/**
 * One site's failover decisions for one pair (volume group): observations in through the {@code
 * on...} methods, a {@link Decision} out of {@link #decide()}, and the write gate {@link
 * #mayAcknowledgeWrites()} the data path checks for every write. No threads, no I/O; time comes
 * from the {@link InstantSource}, so tests drive it with a fake clock.
 *
 * <h2>Rules</h2>
 *
 * <ul>
 *   <li><b>Write permission is a lease.</b> A primary may acknowledge writes until {@code
 *       selfFenceAfter} past its newest evidence that nobody else can hold the lease: a witness
 *       renewal (counted from when the request was <em>sent</em>, and never longer than the lease
 *       the witness granted), or the standby echoing one of its heartbeats (never longer than the
 *       standby's own {@code peerLostAfter}). Past that it self-fences. A primary that lost the
 *       witness but still hears the standby therefore keeps working: the witness alone is no single
 *       point of failure.
 *   <li><b>Higher term wins.</b> A primary that sees a higher term (peer heartbeat, witness
 *       refusal) is deposed and stays fenced until an operator reintegrates it.
 *   <li><b>The standby fails over</b> only when the peer is silent on every heartbeat path for
 *       {@code peerLostAfter} (or the primary stepped down on purpose), and then only through the
 *       witness: claim the lease, fence the old primary, promote. While claiming it stops echoing
 *       the primary's heartbeats, so a late heartbeat cannot extend the old primary's permission.
 *   <li><b>Never on a planned stop.</b> Maintenance mode (own, or announced by the peer in its
 *       heartbeats) suppresses every automatic failover; it never suppresses self-fencing, which is
 *       what makes someone else's failover safe.
 *   <li><b>Off by default.</b> Without {@code autoFailover} the standby never promotes itself, so
 *       the primary needs no lease and never fences itself.
 * </ul>
 *
 * <p>Not thread-safe: the site drives it from one thread (or under one lock).
 */
public final class FailoverPolicy {
  public enum Role {
    PRIMARY,
    STANDBY
  }

  private enum Promotion {
    IDLE,
    CLAIMING,
    FENCING,
    READY
  }

  private final FailoverConfig config;
  private final String siteId;
  private final InstantSource clock;
  private final HeartbeatTracker heartbeats;
  private final MonitorTracker monitors;

  private Role role;
  private long term;
  private boolean maintenance;
  private Instant renewalEvidenceUntil;
  private Instant lastRenewalSent;
  private Instant echoEvidenceUntil;
  private String deposed;
  private boolean steppedDown;
  private String stepDownReason;
  private Promotion promotion = Promotion.IDLE;
  private FenceResult lastFence;
  private String lastClaimRefusal;

  private FailoverPolicy(
      FailoverConfig config, String siteId, Role role, long term, InstantSource clock) {
    this.config = Objects.requireNonNull(config);
    this.siteId = Objects.requireNonNull(siteId);
    this.clock = Objects.requireNonNull(clock);
    this.role = role;
    this.term = term;
    this.heartbeats = new HeartbeatTracker(config.heartbeatPaths(), config.peerLostAfter(), clock);
    this.monitors = new MonitorTracker(config.monitors(), config.monitorFailures());
  }

  /**
   * A primary at {@code term} (its generation, at least 1). It may not acknowledge writes (with
   * automatic failover on) until the witness renews its lease or the standby echoes a heartbeat.
   */
  public static FailoverPolicy primary(
      FailoverConfig config, String siteId, long term, InstantSource clock) {
    if (term < 1) {
      throw new IllegalArgumentException("a primary's term starts at 1, got " + term);
    }
    return new FailoverPolicy(config, siteId, Role.PRIMARY, term, clock);
  }

  /** A standby that knows of {@code term} (the primary's generation, 0 if unknown). */
  public static FailoverPolicy standby(
      FailoverConfig config, String siteId, long term, InstantSource clock) {
    return new FailoverPolicy(config, siteId, Role.STANDBY, term, clock);
  }

  // ---------------------------------------------------------------- observations

  /** A heartbeat from the peer arrived on {@code path}. */
  public void onHeartbeat(String path, Heartbeat hb) {
    heartbeats.heard(path, hb);
    if (hb.term() > term) {
      if (role == Role.PRIMARY && deposed == null) {
        deposed =
            "peer "
                + hb.siteId()
                + " holds term "
                + hb.term()
                + ", newer than this site's term "
                + term;
      }
      if (role == Role.STANDBY && promotion == Promotion.IDLE) {
        term = hb.term();
      }
    }
    if (role == Role.PRIMARY && hb.echo() != null && hb.term() <= term) {
      // The peer heard our heartbeat sent at `echo` (our clock) and will wait its lostAfter of
      // silence from (no earlier than) then before claiming the lease.
      extendEcho(hb.echo().plus(min(config.selfFenceAfter(), hb.lostAfter())));
    }
  }

  /** The heartbeat to send to the peer now (on every path). */
  public Heartbeat heartbeat() {
    Heartbeat peer = heartbeats.latest();
    // While claiming or holding a granted lease we no longer vouch for the old primary.
    Instant echo = promotion == Promotion.IDLE && peer != null ? peer.sentAt() : null;
    return new Heartbeat(
        siteId,
        term,
        mayAcknowledgeWrites(),
        maintenance,
        steppedDown,
        clock.instant(),
        echo,
        config.peerLostAfter());
  }

  /** The witness answered a renewal this site sent at {@code sentAt} (its own clock). */
  public void onRenewReply(LeaseReply reply, Instant sentAt) {
    if (reply.granted() && siteId.equals(reply.holder()) && reply.term() == term) {
      lastRenewalSent = max(lastRenewalSent, sentAt);
      renewalEvidenceUntil =
          max(
              renewalEvidenceUntil,
              sentAt.plus(min(config.selfFenceAfter(), Duration.ofMillis(reply.leaseMillis()))));
      return;
    }
    if (!reply.granted()
        && (promotion == Promotion.FENCING || promotion == Promotion.READY)
        && (reply.term() > term || (reply.holder() != null && !reply.holder().equals(siteId)))) {
      // Granted, then lost before promoting (e.g. a restarted witness re-established the old
      // holder): promoting now would make a second writer.
      promotion = Promotion.IDLE;
      lastClaimRefusal = "lease lost before promotion: " + reply.reason();
      renewalEvidenceUntil = null;
      return;
    }
    if (!reply.granted()
        && role == Role.PRIMARY
        && deposed == null
        && (reply.term() > term || (reply.holder() != null && !reply.holder().equals(siteId)))) {
      deposed = "witness: " + reply.reason();
    }
  }

  /** The caller sent the claim a {@link Decision.RequestPromotion} asked for. */
  public void onClaimSent() {
    requireRole(Role.STANDBY, "claim");
    promotion = Promotion.CLAIMING;
  }

  /**
   * The witness answered this site's claim sent at {@code sentAt}; {@code null} if it never
   * answered.
   */
  public void onClaimReply(LeaseReply reply, Instant sentAt) {
    requireRole(Role.STANDBY, "claim");
    if (promotion != Promotion.CLAIMING) {
      return;
    }
    if (reply != null && reply.granted() && siteId.equals(reply.holder())) {
      term = reply.term();
      lastClaimRefusal = null;
      lastFence = null;
      renewalEvidenceUntil =
          sentAt.plus(min(config.selfFenceAfter(), Duration.ofMillis(reply.leaseMillis())));
      lastRenewalSent = sentAt;
      promotion = config.fence() == null ? Promotion.READY : Promotion.FENCING;
    } else {
      lastClaimRefusal = reply == null ? "the witness did not answer" : reply.reason();
      if (reply != null && reply.term() > term) {
        term = reply.term();
      }
      promotion = Promotion.IDLE;
    }
  }

  /** The fence agent a {@link Decision.Fence} asked for finished. */
  public void onFenceResult(FenceResult result) {
    if (promotion != Promotion.FENCING) {
      return;
    }
    lastFence = result;
    if (result.success()) {
      promotion = Promotion.READY;
    }
  }

  /** The site became primary as a {@link Decision.Promote} asked. */
  public void onPromoted() {
    if (promotion != Promotion.READY) {
      throw new IllegalStateException("promoted without a granted lease and a confirmed fence");
    }
    role = Role.PRIMARY;
    promotion = Promotion.IDLE;
    echoEvidenceUntil = null;
  }

  /** The site stopped writes and released its lease as a {@link Decision.StepDown} asked. */
  public void onSteppedDown() {
    requireRole(Role.PRIMARY, "step down");
    String why = monitors.failoverRequest();
    stepDownReason = why == null ? "on request" : why;
    steppedDown = true;
  }

  public void onProbe(ProbeResult result) {
    monitors.record(result);
  }

  /** Maintenance mode: no automatic failover from this site, and the peer is told so. */
  public void setMaintenance(boolean on) {
    maintenance = on;
  }

  // ---------------------------------------------------------------- outputs

  public Decision decide() {
    return role == Role.PRIMARY ? decidePrimary() : decideStandby();
  }

  /** The write gate: may this site acknowledge a write at this instant? */
  public boolean mayAcknowledgeWrites() {
    if (role != Role.PRIMARY || deposed != null || steppedDown) {
      return false;
    }
    if (!config.autoFailover()) {
      return true;
    }
    if (!maintenance && monitors.failoverRequest() != null) {
      return false; // stepping down: stop at once, release the lease next
    }
    Instant until = writesAllowedUntil();
    return until != null && clock.instant().isBefore(until);
  }

  /** The end of the current lease evidence, or null if there is none (automatic failover on). */
  public Instant writesAllowedUntil() {
    return max(renewalEvidenceUntil, echoEvidenceUntil);
  }

  /** Whether the caller should keep renewing the lease at the witness (at {@link #term()}). */
  public boolean holdsLease() {
    return config.autoFailover()
        && ((role == Role.PRIMARY && deposed == null && !steppedDown)
            || promotion == Promotion.FENCING
            || promotion == Promotion.READY);
  }

  public Role role() {
    return role;
  }

  public long term() {
    return term;
  }

  public boolean maintenance() {
    return maintenance;
  }

  public HeartbeatTracker heartbeats() {
    return heartbeats;
  }

  public MonitorTracker monitors() {
    return monitors;
  }

  public FailoverConfig config() {
    return config;
  }

  // ---------------------------------------------------------------- decisions

  private Decision decidePrimary() {
    if (deposed != null) {
      return new Decision.SelfFence(
          "deposed: " + deposed + "; writes stay stopped until an operator reintegrates this site");
    }
    if (steppedDown) {
      return new Decision.SelfFence(
          "stepped down (" + stepDownReason + "); the standby takes over");
    }
    String monitorRequest = monitors.failoverRequest();
    if (!config.autoFailover()) {
      return monitorRequest == null
          ? new Decision.Stay(
              "primary at term " + term + " (automatic failover off: no lease needed)")
          : new Decision.Suppressed(
              "automatic failover is off (failover.autoFailover: false): " + monitorRequest);
    }
    Instant now = clock.instant();
    Instant until = writesAllowedUntil();
    if (until == null || !now.isBefore(until)) {
      return new Decision.SelfFence(
          (until == null
                  ? "no lease evidence yet"
                  : "lease evidence ran out " + secs(Duration.between(until, now)) + " ago")
              + " (last witness renewal "
              + ago(lastRenewalSent, now)
              + ", peer: "
              + heartbeats.describe()
              + "; selfFenceAfter "
              + FailoverConfig.human(config.selfFenceAfter())
              + "): writes stopped so the standby can take over safely");
    }
    if (monitorRequest != null) {
      if (maintenance) {
        return new Decision.Suppressed(
            "maintenance mode: " + monitorRequest + "; no automatic failover");
      }
      return new Decision.StepDown(
          term, monitorRequest + "; stop writes and release the lease at term " + term);
    }
    return new Decision.Stay(
        "primary at term "
            + term
            + ", writes allowed for "
            + secs(Duration.between(now, until))
            + " more (peer: "
            + heartbeats.describe()
            + ")");
  }

  private Decision decideStandby() {
    switch (promotion) {
      case CLAIMING -> {
        return new Decision.Stay("claim sent to the witness; waiting for its answer");
      }
      case FENCING -> {
        return maintenance
            ? new Decision.Suppressed(
                "maintenance mode: promotion at term " + term + " paused before fencing")
            : new Decision.Fence(
                term,
                "lease granted at term "
                    + term
                    + "; the old primary must be fenced before promotion"
                    + (lastFence == null ? "" : " (last attempt: " + lastFence.reason() + ")"));
      }
      case READY -> {
        return maintenance
            ? new Decision.Suppressed("maintenance mode: promotion at term " + term + " paused")
            : new Decision.Promote(
                term,
                "lease granted at term "
                    + term
                    + " and "
                    + (config.fence() == null
                        ? "no fence agent configured: the old primary fenced itself (selfFenceAfter "
                            + FailoverConfig.human(config.selfFenceAfter())
                            + " < lease "
                            + FailoverConfig.human(config.lease())
                            + ")"
                        : "old primary fenced (" + lastFence.reason() + ")"));
      }
      case IDLE -> {
        // decided below
      }
    }
    Heartbeat peer = heartbeats.latest();
    String trigger;
    if (heartbeats.peerLost()) {
      trigger =
          "primary lost ("
              + heartbeats.describe()
              + "; peerLostAfter "
              + FailoverConfig.human(config.peerLostAfter())
              + ")";
    } else if (peer != null && peer.steppedDown() && peer.term() >= term) {
      trigger = "primary " + peer.siteId() + " stepped down at term " + peer.term();
    } else {
      return new Decision.Stay(
          "standby following term " + term + " (peer: " + heartbeats.describe() + ")");
    }
    if (!config.autoFailover()) {
      return new Decision.Suppressed(
          "automatic failover is off (failover.autoFailover: false): "
              + trigger
              + "; fence the old primary and promote by hand");
    }
    if (maintenance) {
      return new Decision.Suppressed("maintenance mode: " + trigger + "; no automatic failover");
    }
    if (peer != null && peer.plannedStop()) {
      return new Decision.Suppressed(
          "the primary announced a planned stop (maintenance): "
              + trigger
              + "; no automatic failover");
    }
    return new Decision.RequestPromotion(
        term,
        trigger
            + "; claim the lease at the witness"
            + (lastClaimRefusal == null ? "" : " (last claim refused: " + lastClaimRefusal + ")"));
  }

  // ---------------------------------------------------------------- helpers

  private void extendEcho(Instant until) {
    echoEvidenceUntil = max(echoEvidenceUntil, until);
  }

  private void requireRole(Role r, String what) {
    if (role != r) {
      throw new IllegalStateException("cannot " + what + " as " + role);
    }
  }

  private static Instant max(Instant a, Instant b) {
    return a == null ? b : b == null ? a : a.isAfter(b) ? a : b;
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  private static String ago(Instant t, Instant now) {
    return t == null ? "never" : secs(Duration.between(t, now)) + " ago";
  }

  private static String secs(Duration d) {
    return String.format("%.1fs", d.toMillis() / 1000.0);
  }
}
