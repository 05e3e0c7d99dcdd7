package io.kagami.site.failover;

import java.time.Duration;

/**
 * The {@code failover} part of a site's {@code GET /status}: the policy's state as the {@link
 * PolicyDriver} sees it at one instant, joined with what the I/O parts last saw (the witness's last
 * answer, the heartbeat path's last error, the last fence and action). Read on the admin server's
 * threads; takes the driver's lock once, briefly, and never blocks otherwise.
 */
final class FailoverStatusView {
  private final boolean automatic;
  private final Duration checkInterval;
  private final PolicyDriver driver;
  private final LeaseClient lease;
  private final HeartbeatSender heartbeats;
  private final FailoverActions actions;

  FailoverStatusView(
      boolean automatic,
      Duration checkInterval,
      PolicyDriver driver,
      LeaseClient lease,
      HeartbeatSender heartbeats,
      FailoverActions actions) {
    this.automatic = automatic;
    this.checkInterval = checkInterval;
    this.driver = driver;
    this.lease = lease;
    this.heartbeats = heartbeats;
    this.actions = actions;
  }

  FailoverStatus status() {
    PolicyDriver.Snapshot s = driver.snapshot();
    String heartbeatError = heartbeats.lastError();
    return new FailoverStatus(
        automatic,
        s.primary() ? "primary" : "standby",
        s.term(),
        s.fenced(),
        s.fencedReason(),
        s.writesAllowedForSeconds(),
        s.maintenance(),
        s.peerAnnouncedMaintenance(),
        DecisionLog.typeOf(s.decision()),
        s.decision().reason()
            + (heartbeatError == null ? "" : "; heartbeat path: " + heartbeatError),
        checkInterval.toMillis(),
        lease.status(),
        s.paths(),
        s.monitors(),
        actions.lastFence(),
        actions.lastAction(),
        s.recentDecisions());
  }
}
