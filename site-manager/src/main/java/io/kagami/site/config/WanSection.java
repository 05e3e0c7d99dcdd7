package io.kagami.site.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.DateTimeException;
import java.time.LocalTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the {@code wan:} section of a site's configuration (see {@link ConfigLoader} for its keys):
 * the link's addresses (which of listen and peer a role needs), the paired site and its
 * certificate, TLS files, and the primary's bandwidth cap and schedule. Problems go to the shared
 * {@link ConfigReader}. Not thread-safe: one per load.
 */
final class WanSection {
  private final ConfigReader r;

  WanSection(ConfigReader reader) {
    this.r = reader;
  }

  /**
   * The section's settings for site {@code id} in {@code role} (null when the role is missing or
   * invalid: then neither address is read). Never null; meaningful only when no problem was added.
   */
  WanSettings parse(JsonNode root, Role role, String id) {
    return parse(root, role, id, false);
  }

  /**
   * As {@link #parse(JsonNode, Role, String)}; {@code nToOne}: the configuration lists its
   * primaries under {@code peers:}, so wan.peerSiteId and wan.peerCertificate must be absent (each
   * peer names its own) and so must wan.peer (an N:1 standby is never promoted as a whole).
   */
  WanSettings parse(JsonNode root, Role role, String id, boolean nToOne) {
    JsonNode wan = r.object(root, "wan");
    r.known(
        wan,
        "wan.",
        "listen",
        "peer",
        "peerSiteId",
        "peerCertificate",
        "certificate",
        "privateKey",
        "bandwidth",
        "bandwidthSchedule",
        "timeZone");
    HostPort wanListen = null;
    HostPort wanPeer = null;
    // Both sites may set both: the role decides which one is used, and the other is what a role
    // change (switchover, failback) needs — the primary's listen for when it becomes the standby,
    // the standby's peer for when it becomes the primary.
    if (role == Role.STANDBY) {
      wanListen = r.address(wan, "wan.listen", "0.0.0.0:" + SiteConfig.DEFAULT_WAN_PORT);
      wanPeer = r.address(wan, "wan.peer", null);
    } else if (role == Role.PRIMARY) {
      wanPeer = r.address(wan, "wan.peer", null);
      wanListen = r.address(wan, "wan.listen", null);
      if (wanPeer == null) {
        r.problem("wan.peer is required on a primary: the standby's WAN address, host:port");
      }
    }
    if (nToOne) {
      for (String k : new String[] {"peerSiteId", "peerCertificate", "peer"}) {
        if (wan.has(k)) {
          r.problem(
              "wan."
                  + k
                  + " does not go with peers: a standby that lists its primaries under peers names each one's siteId and certificate there, and is not promoted as a whole (no wan.peer)");
        }
      }
      if (role != null && role != Role.STANDBY) {
        r.problem(
            "peers: lists the primaries of an N:1 standby; site.role must be standby (a primary replicates to one standby: wan.peer, wan.peerSiteId, wan.peerCertificate)");
      }
      wanPeer = null;
    }
    // An N:1 standby names each peer's site id and certificate in its peers: entry instead.
    String peerSiteId = nToOne ? null : r.text(wan, "wan.peerSiteId", null);
    if (!nToOne && peerSiteId == null) {
      r.problem("wan.peerSiteId is required: the id of the paired site");
    } else if (!nToOne && peerSiteId.equals(id)) {
      r.problem(
          "wan.peerSiteId is this site's own id \"" + id + "\"; it must name the paired site");
    }
    Path peerCert = nToOne ? null : r.path(wan, "wan.peerCertificate");
    if (!nToOne && peerCert == null) {
      r.problem(
          "wan.peerCertificate is required: the paired site's certificate (PEM), printed by `kagami cert show` on that site");
    } else if (!nToOne && !Files.isReadable(peerCert)) {
      r.problem("wan.peerCertificate " + peerCert + " does not exist or is not readable");
    }
    Path cert = r.path(wan, "wan.certificate");
    Path key = r.path(wan, "wan.privateKey");
    if ((cert == null) != (key == null)) {
      r.problem(
          "wan.certificate and wan.privateKey go together: give both, or neither to use the generated key");
    }
    if (cert != null && !Files.isReadable(cert)) {
      r.problem("wan.certificate", "TLS file " + cert + " does not exist or is not readable");
    }
    if (key != null && !Files.isReadable(key)) {
      r.problem("wan.privateKey", "TLS file " + key + " does not exist or is not readable");
    }

    long bandwidth = 0;
    String bandwidthText = r.text(wan, "wan.bandwidth", null);
    if (bandwidthText != null) {
      try {
        bandwidth = Bandwidth.parse(bandwidthText);
      } catch (IllegalArgumentException e) {
        r.problem("wan.bandwidth: " + e.getMessage());
      }
    }
    BandwidthSchedule schedule = schedule(wan);
    if (role == Role.STANDBY
        && wanPeer == null
        && (wan.has("bandwidth") || wan.has("bandwidthSchedule"))) {
      r.problem(
          "wan.bandwidth and wan.bandwidthSchedule are for a primary (the sending side of the link); on a standby they apply only once it is promoted, which needs wan.peer (the primary's WAN listen address)");
    }
    return new WanSettings(
        wanListen, wanPeer, peerSiteId, peerCert, cert, key, bandwidth, schedule);
  }

  private BandwidthSchedule schedule(JsonNode wan) {
    ZoneId zone = ZoneId.systemDefault();
    String zoneText = r.text(wan, "wan.timeZone", null);
    if (zoneText != null) {
      try {
        zone = ZoneId.of(zoneText);
      } catch (DateTimeException e) {
        r.problem(
            "wan.timeZone \""
                + zoneText
                + "\" is not a time zone (examples: Asia/Tokyo, UTC, +09:00)");
      }
    }
    JsonNode list = wan.get("bandwidthSchedule");
    if (list == null || list.isNull()) {
      return zoneText == null ? BandwidthSchedule.NONE : new BandwidthSchedule(List.of(), zone);
    }
    if (!list.isArray()) {
      r.problem(
          "wan.bandwidthSchedule must be a list of windows, e.g. [{from: \"08:00\", to: \"18:00\", rate: 1500KB}]");
      return BandwidthSchedule.NONE;
    }
    List<BandwidthSchedule.Window> windows = new ArrayList<>();
    int[] owner = new int[24 * 60]; // which window (1-based) covers each minute of the day
    for (int i = 0; i < list.size(); i++) {
      String at = "wan.bandwidthSchedule[" + i + "]";
      JsonNode w = list.get(i);
      if (!w.isObject()) {
        r.problem(
            at
                + " must be a mapping with from, to and rate, e.g. {from: \"08:00\", to: \"18:00\", rate: 1500KB}");
        continue;
      }
      r.known(w, at + ".", "from", "to", "rate");
      LocalTime from = timeOfDay(w, at + ".from");
      LocalTime to = timeOfDay(w, at + ".to");
      String rateText = r.text(w, at + ".rate", null);
      Long rate = null;
      if (rateText == null) {
        r.problem(at + ".rate is required (e.g. 1500KB, or unlimited)");
      } else {
        try {
          rate = Bandwidth.parse(rateText);
        } catch (IllegalArgumentException e) {
          r.problem(at + ".rate: " + e.getMessage());
        }
      }
      if (from == null || to == null || rate == null) {
        continue;
      }
      if (from.equals(to)) {
        r.problem(
            at
                + ": from and to are both "
                + from
                + "; a window needs two different times (for all day, set wan.bandwidth)");
        continue;
      }
      BandwidthSchedule.Window window = new BandwidthSchedule.Window(from, to, rate);
      int start = from.getHour() * 60 + from.getMinute();
      int end = to.getHour() * 60 + to.getMinute();
      for (int m = start; m != end; m = (m + 1) % owner.length) {
        if (owner[m] != 0) {
          r.problem(
              at
                  + " ("
                  + from
                  + "-"
                  + to
                  + ") overlaps wan.bandwidthSchedule["
                  + (owner[m] - 1)
                  + "] ("
                  + windows.get(owner[m] - 1).from()
                  + "-"
                  + windows.get(owner[m] - 1).to()
                  + ") at "
                  + LocalTime.of(m / 60, m % 60)
                  + "; windows must not overlap");
          window = null;
          break;
        }
        owner[m] = windows.size() + 1;
      }
      if (window == null) {
        break; // the minute map is now partial; further overlap reports would be noise
      }
      windows.add(window);
    }
    return new BandwidthSchedule(windows, zone);
  }

  private LocalTime timeOfDay(JsonNode w, String qualified) {
    String t = r.text(w, qualified, null);
    if (t == null) {
      r.problem(qualified + " is required: a time of day HH:MM, e.g. \"08:00\"");
      return null;
    }
    if (t.equals("24:00")) {
      return LocalTime.MIDNIGHT;
    }
    try {
      if (!t.matches("\\d{1,2}:\\d{2}")) {
        throw new DateTimeException(t);
      }
      return LocalTime.parse(t.length() == 4 ? "0" + t : t);
    } catch (DateTimeException e) {
      r.problem(
          qualified
              + " \""
              + t
              + "\" is not a time of day (HH:MM, 00:00 to 24:00; quote it in YAML: \"08:00\")");
      return null;
    }
  }
}
