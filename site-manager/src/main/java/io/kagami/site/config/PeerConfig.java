package io.kagami.site.config;

import io.kagami.replicator.history.History;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One site this site replicates with: its id (the CN of its certificate), the certificate this site
 * trusts for it, and the volumes replicated with it. A 1:1 configuration ({@code wan.peerSiteId},
 * {@code wan.peerCertificate}, {@code volumes}) makes exactly one, not namespaced; a standby's
 * {@code peers:} list makes one per primary site, each namespaced.
 *
 * <p>Namespacing: on an N:1 standby every volume of peer {@code tokyo} is held, journaled, exported
 * and reported as {@code tokyo.vol0} (its <em>local</em> name), while the primary offers it as
 * {@code vol0} (its <em>remote</em> name). Site ids never contain a '.', so the first '.' of a
 * local name always separates the peer from the volume: two peers may both have {@code vol0}, and
 * no two local names collide.
 *
 * @param siteId the peer's site id
 * @param certificate the peer's certificate (PEM), the only one trusted for it
 * @param namespaced true for a {@code peers:} entry: local names are {@code <siteId>.<volume>}
 * @param volumes the peer's volumes under their local names
 * @param historyQuotaBytes standby history (before-images for drills and point-in-time promotion)
 *     kept for this peer, shared evenly by its volumes; 0 = none beyond each volume's own retention
 */
public record PeerConfig(
    String siteId,
    Path certificate,
    boolean namespaced,
    List<VolumeConfig> volumes,
    long historyQuotaBytes) {

  /** Separates the peer's site id from its volume's name in a local (namespaced) name. */
  public static final char SEPARATOR = '.';

  public PeerConfig {
    volumes = List.copyOf(volumes);
  }

  /** The name this site uses for the peer's volume {@code remote}. */
  public String localName(String remote) {
    return namespaced ? siteId + SEPARATOR + remote : remote;
  }

  /** The name the peer uses for this site's volume {@code local}. */
  public String remoteName(String local) {
    return namespaced ? local.substring(siteId.length() + 1) : local;
  }

  /** True when {@code local} is one of this peer's volumes. */
  public boolean holds(String local) {
    for (VolumeConfig v : volumes) {
      if (v.name().equals(local)) {
        return true;
      }
    }
    return false;
  }

  /**
   * The peer entry of a {@code peers:} list: each volume renamed to its local name (group members
   * too), and the quota shared into each volume's retention cap where the volume sets none.
   */
  static PeerConfig namespaced(
      String siteId, Path certificate, List<VolumeConfig> remote, long historyQuotaBytes) {
    List<VolumeConfig> local = new ArrayList<>();
    long share =
        remote.isEmpty()
            ? 0
            : Math.max(VolumeConfig.MIN_HISTORY_CAPACITY, historyQuotaBytes / remote.size());
    for (VolumeConfig v : remote) {
      List<VolumeConfig.Member> members = new ArrayList<>();
      for (VolumeConfig.Member m : v.members()) {
        members.add(
            new VolumeConfig.Member(siteId + SEPARATOR + m.name(), m.offset(), m.sizeBytes()));
      }
      History.Retention retention = v.retention();
      if (historyQuotaBytes > 0 && retention.maxBytes() == 0) {
        retention = new History.Retention(retention.window(), share);
      }
      local.add(
          new VolumeConfig(
              siteId + SEPARATOR + v.name(),
              v.sizeBytes(),
              v.mode(),
              v.sync(),
              v.historyCapacityBytes(),
              v.bitmapGranularity(),
              retention,
              members));
    }
    return new PeerConfig(siteId, certificate, true, local, historyQuotaBytes);
  }
}
