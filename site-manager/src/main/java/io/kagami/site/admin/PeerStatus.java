package io.kagami.site.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * One primary site of an N:1 standby, in {@code GET /status}: whether it is connected now, from
 * where and since when, its volumes (local names, {@code <siteId>.<volume>}), and over them the
 * bytes received, the lag (sum of bytes, oldest change in seconds) and the worst state.
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
    double lagSeconds) {
  public PeerStatus {
    volumes = List.copyOf(volumes);
  }
}
