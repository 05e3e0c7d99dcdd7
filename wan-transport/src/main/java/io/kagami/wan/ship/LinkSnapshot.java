package io.kagami.wan.ship;

import java.time.Instant;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The shipper's view of its link at one moment, for status and metrics.
 *
 * @param connected the standby answered WELCOME on the current connection and it is up
 * @param peerSiteId the standby's site id as its last WELCOME said, or null before the first
 * @param address the standby's address as configured
 * @param volumes per volume, in the order offered
 * @param rawBytes journal entry bytes shipped, as stored (before batch compression)
 * @param wireBytes bytes written to the socket (frames after compression and TLS)
 * @param lastError the last reason the link went down, was refused, or a volume stalled; kept after
 *     recovery (see {@code lastErrorAt}), null if none yet
 * @param lastErrorAt when {@code lastError} happened
 * @param bandwidthBytesPerSecond the cap on wire bytes in force now; 0 = unlimited
 * @param wireSendRateBytesPerSecond wire bytes per second over the last few seconds (frames as
 *     sent, after compression, with the TLS record overhead)
 */
public record LinkSnapshot(
    boolean connected,
    String peerSiteId,
    String address,
    Map<String, VolumeProgress> volumes,
    long rawBytes,
    long wireBytes,
    String lastError,
    Instant lastErrorAt,
    long bandwidthBytesPerSecond,
    double wireSendRateBytesPerSecond) {

  public LinkSnapshot {
    volumes = Collections.unmodifiableMap(new LinkedHashMap<>(volumes));
  }

  /**
   * One volume's progress.
   *
   * @param lastSentSeq highest sequence number written to the link
   * @param lastAckedSeq highest sequence number the standby holds durably
   * @param resumedFromSeq the standby's durable point in the last WELCOME; shipping resumed after
   *     it
   * @param stalled why this volume is not shipping although the link is up (history trimmed below
   *     the standby's resume point, diverged, unreadable), or null
   * @param rawSendRateBytesPerSecond journal bytes (as stored) of this volume sent per second over
   *     the last few seconds: the rate its history drains at
   */
  public record VolumeProgress(
      long lastSentSeq,
      long lastAckedSeq,
      long resumedFromSeq,
      String stalled,
      double rawSendRateBytesPerSecond) {}
}
