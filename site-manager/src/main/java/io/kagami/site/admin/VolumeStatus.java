package io.kagami.site.admin;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One volume in {@code GET /status}. {@code lastAckedByPeerSeq} is reported by a primary, {@code
 * lastAppliedSeq} by a standby. Lag is what the other side still has to get (primary: not yet
 * durable on the standby; standby: received but not yet applied to the replica). {@code
 * resumedFromSeq} (primary) is where the link last resumed: the standby's durable point.
 *
 * <p>History (primary): {@code historyBytes} are journaled bytes not yet sent to the standby (what
 * piles up when writes outrun the link), {@code oldestUnsentAgeSeconds} the age of the oldest of
 * them, and {@code drainEtaSeconds} how long sending them takes at the volume's recent send rate
 * were writes to stop now: null when there is no history or nothing was sent recently (not
 * draining). Lag, by contrast, also counts bytes sent but not yet acknowledged.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VolumeStatus(
    String name,
    String role,
    long sizeBytes,
    long lastJournaledSeq,
    Long lastAckedByPeerSeq,
    Long lastAppliedSeq,
    Long resumedFromSeq,
    long lagBytes,
    double lagSeconds,
    Long historyBytes,
    Double oldestUnsentAgeSeconds,
    @JsonInclude(JsonInclude.Include.ALWAYS) Double drainEtaSeconds,
    String error) {}
