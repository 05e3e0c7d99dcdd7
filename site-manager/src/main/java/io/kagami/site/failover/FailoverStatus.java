package io.kagami.site.failover;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * The {@code failover} part of {@code GET /status}: what the failover controller sees and decided.
 *
 * @param automatic whether this site fails over / self-fences on its own ({@code
 *     failover.automatic})
 * @param role the role the policy runs ({@code primary} or {@code standby})
 * @param term the witness term this site holds (primary) or knows (standby)
 * @param fenced true while this site is primary but may not acknowledge writes
 * @param fencedReason why, while fenced
 * @param writesAllowedForSeconds a primary's remaining lease evidence (automatic failover on)
 * @param maintenance this site's maintenance mode (no automatic failover while on)
 * @param peerAnnouncedMaintenance the peer's newest heartbeat announced a planned stop
 * @param decision the current decision: stay, self-fence, step-down, request-promotion, fence,
 *     promote, suppressed
 * @param reason the decision's reason
 * @param checkIntervalMillis how often the controller decides
 * @param witness the witness as this site sees it, or null when none is configured
 * @param paths the peer's heartbeat paths
 * @param monitors application monitors (probed on the primary)
 * @param lastFence the fence agent's last result, if it ran
 * @param lastAction the last action carried out (claim, fence, promotion, step-down), if any
 * @param recentDecisions the newest decision changes, oldest first
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record FailoverStatus(
    boolean automatic,
    String role,
    long term,
    boolean fenced,
    String fencedReason,
    Double writesAllowedForSeconds,
    boolean maintenance,
    boolean peerAnnouncedMaintenance,
    String decision,
    String reason,
    long checkIntervalMillis,
    Witness witness,
    List<Path> paths,
    List<Monitor> monitors,
    String lastFence,
    String lastAction,
    List<DecisionChange> recentDecisions) {

  /** This status with writes refused for {@code why} (a role change in progress on the site). */
  public FailoverStatus fencedFor(String why) {
    return new FailoverStatus(
        automatic,
        role,
        term,
        true,
        why,
        0.0,
        maintenance,
        peerAnnouncedMaintenance,
        decision,
        reason,
        checkIntervalMillis,
        witness,
        paths,
        monitors,
        lastFence,
        lastAction,
        recentDecisions);
  }

  /**
   * @param lastReply the witness's last answer; @param lastError why the last request failed, if it
   *     did
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Witness(
      String address,
      String group,
      String lastReply,
      Double lastGrantSecondsAgo,
      String lastError) {}

  public record Path(String path, boolean alive, boolean everHeard, double silentSeconds) {}

  public record Monitor(String name, int consecutiveFailures, Boolean healthy, String detail) {}

  /**
   * @param at wall-clock time (ISO-8601) the decision began
   */
  public record DecisionChange(String at, String decision, String reason) {}
}
