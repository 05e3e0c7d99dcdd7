package io.kagami.site.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.kagami.site.failover.FailoverStatus;
import java.util.List;

/**
 * The body of {@code GET /status}: the site, its link and each volume; {@code failover} (heartbeats,
 * witness, fencing, decisions) when the site has a {@code failover:} section, else absent.
 */
public record SiteStatus(
    String siteId, String role, String nbd, LinkStatus link, List<VolumeStatus> volumes, @JsonInclude(JsonInclude.Include.NON_NULL) FailoverStatus failover) {
  public SiteStatus(String siteId, String role, String nbd, LinkStatus link, List<VolumeStatus> volumes) {
    this(siteId, role, nbd, link, volumes, null);
  }
}
