package io.kagami.site.admin;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One volume in {@code GET /status}. {@code lastAckedByPeerSeq} is reported by a primary, {@code
 * lastAppliedSeq} by a standby. Lag is what the other side still has to get (primary: not yet
 * durable on the standby; standby: received but not yet applied to the replica). {@code
 * resumedFromSeq} (primary) is where the link last resumed: the standby's durable point. {@code
 * mode} is the configured replication mode ({@code async}|{@code sync}), {@code state} where the
 * volume stands now (e.g. {@code replicating}, {@code buffering}, {@code degraded}, {@code bitmap},
 * {@code resyncing}, {@code inconsistent}). {@code resyncRemainingBytes} (primary): bytes of
 * changed regions still to be copied to the standby.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VolumeStatus(
    String name,
    String role,
    String mode,
    String state,
    long sizeBytes,
    long lastJournaledSeq,
    Long lastAckedByPeerSeq,
    Long lastAppliedSeq,
    Long resumedFromSeq,
    long lagBytes,
    double lagSeconds,
    Long resyncRemainingBytes,
    String error) {}
