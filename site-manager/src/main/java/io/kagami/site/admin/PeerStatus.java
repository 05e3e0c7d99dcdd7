package io.kagami.site.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * One primary site of an N:1 standby, in {@code GET /status}: whether it is connected now, from
 * where and since when, its volumes (local names, {@code <siteId>.<volume>}), and over them the
 * bytes received, the lag (sum of bytes, oldest change in seconds) and the worst state; its role
 * here ({@code replicating}, or {@code promoted} with when: its volumes were promoted on this
 * standby and take writes, and the primary is refused as stale).
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record PeerStatus(
    String siteId,
    boolean connected,
    String remoteAddress,
    String connectedSince,
    List<String> volumes,
    long receivedBytes,
    long lagBytes,
    double lagSeconds,
    String role,
    String promotedAt) {
  /** The peer replicates into this standby. */
  public static final String REPLICATING = "replicating";

  /** The peer's volumes were promoted on this standby ({@code kagami promote --peer}). */
  public static final String PROMOTED = "promoted";

  /** A peer that replicates into this standby. */
  public PeerStatus(
      String siteId,
      boolean connected,
      String remoteAddress,
      String connectedSince,
      List<String> volumes,
      long receivedBytes,
      long lagBytes,
      double lagSeconds) {
    this(
        siteId,
        connected,
        remoteAddress,
        connectedSince,
        volumes,
        receivedBytes,
        lagBytes,
        lagSeconds,
        REPLICATING,
        null);
  }

  public PeerStatus {
    volumes = List.copyOf(volumes);
  }
}
