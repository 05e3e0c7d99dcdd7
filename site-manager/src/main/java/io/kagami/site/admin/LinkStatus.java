package io.kagami.site.admin;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The WAN link as the site sees it. On a primary also: {@code bandwidthBytesPerSecond}, the cap on
 * wire bytes in force (0 = unlimited) and {@code bandwidthSource} ({@code override}, {@code
 * schedule} or {@code config}, see {@code GET /link}); {@code sendRateBytesPerSecond}, wire bytes
 * per second over the last few seconds.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LinkStatus(
    boolean connected,
    String peerSiteId,
    String address,
    long rawBytes,
    long wireBytes,
    String lastError,
    Long bandwidthBytesPerSecond,
    String bandwidthSource,
    Double sendRateBytesPerSecond) {

  /** A standby's view (no cap, no send rate). */
  public LinkStatus(
      boolean connected,
      String peerSiteId,
      String address,
      long rawBytes,
      long wireBytes,
      String lastError) {
    this(connected, peerSiteId, address, rawBytes, wireBytes, lastError, null, null, null);
  }
}
