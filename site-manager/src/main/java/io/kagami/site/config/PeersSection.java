package io.kagami.site.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads the {@code peers:} list of an N:1 standby's configuration: one entry per primary site, each
 * with its {@code siteId}, {@code certificate}, optional {@code historyQuota} and its own {@code
 * volumes} (the same keys as the top-level list). Problems go to the shared {@link ConfigReader},
 * each naming the entry. Not thread-safe: one per load.
 */
final class PeersSection {
  private static final Pattern SITE_ID = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

  private final ConfigReader r;

  PeersSection(ConfigReader reader) {
    this.r = reader;
  }

  /** The valid peers, in order (the others added a problem each). */
  List<PeerConfig> parse(JsonNode list, String ownId) {
    List<PeerConfig> peers = new ArrayList<>();
    if (!list.isArray() || list.isEmpty()) {
      r.problem(
          "peers must list the primary sites this standby receives from, e.g. peers: [{siteId: tokyo, certificate: tokyo.crt, volumes: [{name: vol0, size: 1GiB}]}]");
      return peers;
    }
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < list.size(); i++) {
      JsonNode p = list.get(i);
      String at = "peers[" + i + "]";
      if (!p.isObject()) {
        r.problem(at + " must be a mapping with siteId, certificate and volumes");
        continue;
      }
      r.known(p, at + ".", "siteId", "certificate", "historyQuota", "volumes");
      String id = r.text(p, at + ".siteId", null);
      if (id == null) {
        continue;
      }
      if (!SITE_ID.matcher(id).matches()) {
        r.problem(
            at
                + ".siteId \""
                + id
                + "\" is not allowed (lower-case letters, digits and '-', 1-63 characters)");
        continue;
      }
      if (id.equals(ownId)) {
        r.problem(at + ".siteId is this site's own id \"" + id + "\"; it must name a primary site");
        continue;
      }
      if (!ids.add(id)) {
        r.problem("peers: site \"" + id + "\" is listed twice");
        continue;
      }
      Path cert = r.path(p, at + ".certificate");
      if (cert == null) {
        r.problem(
            at
                + ".certificate is required: site "
                + id
                + "'s certificate (PEM), printed by `kagami cert show` on that site");
      } else if (!Files.isReadable(cert)) {
        r.problem(at + ".certificate " + cert + " does not exist or is not readable");
      }
      long quota = 0;
      if (p.has("historyQuota")) {
        String t = r.text(p, at + ".historyQuota", "0");
        try {
          quota = DataSize.parse(t).bytes();
          if (quota != 0 && quota < VolumeConfig.MIN_HISTORY_CAPACITY) {
            r.problem(
                at + ".historyQuota " + t + " is not allowed (at least 1 MiB, or 0 for none)");
          }
        } catch (IllegalArgumentException e) {
          r.problem(at + ".historyQuota " + e.getMessage());
        }
      }
      List<VolumeConfig> volumes = new VolumesSection(r, at + ".").parse(p);
      peers.add(PeerConfig.namespaced(id, cert, volumes, quota));
    }
    return peers;
  }
}
