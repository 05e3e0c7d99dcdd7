package io.kagami.site.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.kagami.site.failover.FailoverStatus;
import java.util.List;

/**
 * The body of {@code GET /status}: the site, its link and each volume; {@code failover}
 * (heartbeats, witness, fencing, decisions) when the site has a {@code failover:} section, else
 * absent; {@code acceptingWrites}: whether the site takes writes right now (a primary, not fenced,
 * no role change under way) — during a switchover both sites may briefly say primary, never both
 * this.
 */
public record SiteStatus(
    String siteId,
    String role,
    String nbd,
    LinkStatus link,
    List<VolumeStatus> volumes,
    @JsonInclude(JsonInclude.Include.NON_NULL) FailoverStatus failover,
    boolean acceptingWrites) {
  public SiteStatus(
      String siteId, String role, String nbd, LinkStatus link, List<VolumeStatus> volumes) {
    this(siteId, role, nbd, link, volumes, null);
  }

  /** {@code acceptingWrites}: a primary that is not fenced (by the failover policy). */
  public SiteStatus(
      String siteId,
      String role,
      String nbd,
      LinkStatus link,
      List<VolumeStatus> volumes,
      FailoverStatus failover) {
    this(
        siteId,
        role,
        nbd,
        link,
        volumes,
        failover,
        role.equals("primary") && (failover == null || !failover.fenced()));
  }
}
