package io.kagami.site.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.kagami.site.VolumeState;

/**
 * One volume in {@code GET /status}. {@code lastAckedByPeerSeq} is reported by a primary, {@code
 * lastAppliedSeq} by a standby. Lag is what the other side still has to get (primary: not yet
 * durable on the standby; standby: received but not yet applied to the replica). {@code
 * resumedFromSeq} (primary) is where the link last resumed: the standby's durable point. {@code
 * state} is the replication state ({@code replicating}, {@code buffering}, ...; see {@link
 * VolumeState}); {@code historyCapacityBytes} the configured bound of the history ({@code
 * historyCapacity}).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VolumeStatus(
    String name,
    String role,
    VolumeState state,
    long sizeBytes,
    long lastJournaledSeq,
    Long lastAckedByPeerSeq,
    Long lastAppliedSeq,
    Long resumedFromSeq,
    long lagBytes,
    long historyCapacityBytes,
    double lagSeconds,
    String error) {}
