package io.kagami.site.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.kagami.site.failover.FailoverStatus;
import java.util.List;

/**
 * The body of {@code GET /status}: the site, its link and each volume; {@code failover}
 * (heartbeats, witness, fencing, decisions) when the site has a {@code failover:} section, else
 * absent; {@code acceptingWrites}: whether the site takes writes right now (a primary, not fenced,
 * no role change under way) — during a switchover both sites may briefly say primary, never both
 * this. {@code peers} (an N:1 standby only): each primary site it receives from, with its own link
 * state and figures; {@code link} then says connected only while every one of them is.
 */
public record SiteStatus(
    String siteId,
    String role,
    String nbd,
    LinkStatus link,
    List<VolumeStatus> volumes,
    @JsonInclude(JsonInclude.Include.NON_NULL) FailoverStatus failover,
    boolean acceptingWrites,
    @JsonInclude(JsonInclude.Include.NON_NULL) List<PeerStatus> peers) {

  /** A site with one peer (its {@code link}): no {@code peers} list. */
  public SiteStatus(
      String siteId,
      String role,
      String nbd,
      LinkStatus link,
      List<VolumeStatus> volumes,
      FailoverStatus failover,
      boolean acceptingWrites) {
    this(siteId, role, nbd, link, volumes, failover, acceptingWrites, null);
  }

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
