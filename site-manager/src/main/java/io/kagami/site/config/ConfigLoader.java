package io.kagami.site.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.kagami.replicator.history.History;
import io.kagami.replicator.sync.SyncReplication;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.DateTimeException;
import java.time.LocalTime;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads a site's YAML configuration and validates all of it in one place. Every problem is
 * collected and reported together, each naming the key and what is allowed:
 *
 * <pre>
 * site:
 *   id: tokyo                 # [a-z0-9-], 1-63 characters; the CN of this site's certificate
 *   role: primary             # primary | standby
 * dataDir: /var/lib/kagami    # journal, volume files, generated TLS key; relative to this file
 * compression: true           # LZ4 on journal entry (default true)
 * nbd:
 *   listen: 0.0.0.0:10809     # NBD exports (read-only on a standby)
 * admin:
 *   listen: 127.0.0.1:9480    # HTTP status/metrics
 *   metrics: true             # collect metrics for GET /metrics (default true); false to measure their cost
 *   tokenFile: admin.token    # requests that change the site must present this token (default
 *                             #   <dataDir>/admin.token, created on first start)
 * wan:
 *   listen: 0.0.0.0:7800      # standby: where primaries connect (a primary: where it listens
 *                             #   once it becomes the standby after a switchover or failback)
 *   peer: standby.example:7800 # primary: the standby's WAN address (a standby: the primary's
 *                             #   wan.listen, used once it is promoted)
 *   peerSiteId: hiroshima
 *   peerCertificate: hiroshima.crt   # the paired site's certificate (PEM): the only one trusted
 *   certificate: tokyo.crt    # optional, with privateKey: operator-supplied PEMs
 *   privateKey: tokyo.key
 *   bandwidth: 1500KB         # primary: cap on wire bytes per second (KB = 1000 B); default unlimited
 *   bandwidthSchedule:        # primary, optional: caps by local time of day, replacing bandwidth
 *     - {from: "08:00", to: "18:00", rate: 1500KB}
 *     - {from: "22:00", to: "06:00", rate: unlimited}   # wraps past midnight
 *   timeZone: Asia/Tokyo      # of the schedule; default: the machine's time zone
 * volumes:
 *   - name: vol0              # the NBD export name
 *     size: 1GiB              # multiple of 4096, at least 1 MiB
 *     mode: async             # async (default): acknowledge on the local journal
 *                             # sync: acknowledge once the standby's journal holds the write too
 *     syncTimeout: 10s        # sync: how long writes wait for a standby that does not confirm
 *     onSyncTimeout: degrade  # sync: degrade (acknowledge locally, alert, back to sync when caught
 *                             # up) | block (keep waiting: fail closed)
 *     historyCapacity: 8GiB   # unsent history kept before falling back to a changed-region map
 *                             # (at least 1 MiB)
 *     bitmapGranularity: 64KiB # region size of that map: 4 KiB .. 4 MiB, a power of two
 *     retention: 1h           # standby: history kept for drills at a past point and point-in-time
 *                             # promotion (before-images in <dataDir>/history/<volume>); default none
 *     retentionMaxBytes: 10GiB # standby, optional: cap on that history's bytes (oldest dropped first)
 *   - name: db                # a consistency group: its members share one write order
 *     members:                # and are exported under their own names
 *       - {name: db-data, size: 100GiB}
 *       - {name: db-log, size: 10GiB}
 * failover:                   # optional: heartbeats, witness, self-fencing, automatic failover
 *   automatic: false          # see FailoverSection for every key
 * </pre>
 */
public final class ConfigLoader {
  private static final Pattern SITE_ID = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");
  private static final Pattern VOLUME_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

  private final List<String> problems = new ArrayList<>();
  private final Path base;

  private ConfigLoader(Path base) {
    this.base = base;
  }

  public static SiteConfig load(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new ConfigException(file.toString(), List.of("cannot read the configuration file: " + e.getMessage()));
    }
    Path parent = file.toAbsolutePath().getParent();
    return parse(text, file.toString(), parent);
  }

  /** Parses {@code yaml}; relative paths resolve against {@code base}. */
  public static SiteConfig parse(String yaml, String source, Path base) {
    JsonNode root;
    try {
      root = new ObjectMapper(new YAMLFactory()).readTree(yaml);
    } catch (JacksonException e) {
      String where = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")";
      throw new ConfigException(source, List.of("not valid YAML" + where + ": " + e.getOriginalMessage()));
    }
    if (root == null || !root.isObject()) {
      throw new ConfigException(source, List.of("the configuration must be a YAML mapping with keys site, dataDir, nbd, admin, wan, volumes"));
    }
    ConfigLoader l = new ConfigLoader(base);
    SiteConfig config = l.site(root);
    if (!l.problems.isEmpty()) {
      throw new ConfigException(source, l.problems);
    }
    return config;
  }

  private SiteConfig site(JsonNode root) {
    known(root, "", "site", "dataDir", "compression", "nbd", "admin", "wan", "volumes", "failover");
    JsonNode site = object(root, "site");
    known(site, "site.", "id", "role");
    String id = text(site, "site.id", null);
    if (id != null && !SITE_ID.matcher(id).matches()) {
      problems.add("site.id \"" + id + "\" is not allowed (lower-case letters, digits and '-', 1-63 characters)");
    }
    Role role = null;
    String roleText = text(site, "site.role", null);
    if (roleText != null) {
      try {
        role = Role.valueOf(roleText.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        problems.add("site.role \"" + roleText + "\" is not allowed (primary or standby)");
      }
    }
    String dataDirText = text(root, "dataDir", null);
    Path dataDir = dataDirText == null ? null : base.resolve(dataDirText).normalize();
    boolean compress = !root.has("compression") || bool(root, "compression");

    JsonNode nbd = object(root, "nbd");
    known(nbd, "nbd.", "listen");
    HostPort nbdListen = address(nbd, "nbd.listen", "0.0.0.0:" + SiteConfig.DEFAULT_NBD_PORT);
    JsonNode admin = object(root, "admin");
    known(admin, "admin.", "listen", "metrics", "tokenFile");
    HostPort adminListen = address(admin, "admin.listen", "127.0.0.1:" + SiteConfig.DEFAULT_ADMIN_PORT);
    boolean metrics = !admin.has("metrics") || bool(admin, "admin.metrics");
    Path adminToken = path(admin, "admin.tokenFile");
    if (adminToken != null && Files.isDirectory(adminToken)) {
      problems.add("admin.tokenFile " + adminToken + " is a directory: name the file that holds the token (it is created there if missing)");
    }

    JsonNode wan = object(root, "wan");
    known(wan, "wan.", "listen", "peer", "peerSiteId", "peerCertificate", "certificate", "privateKey", "bandwidth", "bandwidthSchedule", "timeZone");
    HostPort wanListen = null;
    HostPort wanPeer = null;
    // Both sites may set both: the role decides which one is used, and the other is what a role
    // change (switchover, failback) needs — the primary's listen for when it becomes the standby,
    // the standby's peer for when it becomes the primary.
    if (role == Role.STANDBY) {
      wanListen = address(wan, "wan.listen", "0.0.0.0:" + SiteConfig.DEFAULT_WAN_PORT);
      wanPeer = address(wan, "wan.peer", null);
    } else if (role == Role.PRIMARY) {
      wanPeer = address(wan, "wan.peer", null);
      wanListen = address(wan, "wan.listen", null);
      if (wanPeer == null) {
        problems.add("wan.peer is required on a primary: the standby's WAN address, host:port");
      }
    }
    String peerSiteId = text(wan, "wan.peerSiteId", null);
    if (peerSiteId == null) {
      problems.add("wan.peerSiteId is required: the id of the paired site");
    } else if (peerSiteId.equals(id)) {
      problems.add("wan.peerSiteId is this site's own id \"" + id + "\"; it must name the paired site");
    }
    Path peerCert = path(wan, "wan.peerCertificate");
    if (peerCert == null) {
      problems.add("wan.peerCertificate is required: the paired site's certificate (PEM), printed by `kagami cert show` on that site");
    } else if (!Files.isReadable(peerCert)) {
      problems.add("wan.peerCertificate " + peerCert + " does not exist or is not readable");
    }
    Path cert = path(wan, "wan.certificate");
    Path key = path(wan, "wan.privateKey");
    if ((cert == null) != (key == null)) {
      problems.add("wan.certificate and wan.privateKey go together: give both, or neither to use the generated key");
    }
    for (Path p : new Path[] {cert, key}) {
      if (p != null && !Files.isReadable(p)) {
        problems.add("TLS file " + p + " does not exist or is not readable");
      }
    }

    long bandwidth = 0;
    String bandwidthText = text(wan, "wan.bandwidth", null);
    if (bandwidthText != null) {
      try {
        bandwidth = Bandwidth.parse(bandwidthText);
      } catch (IllegalArgumentException e) {
        problems.add("wan.bandwidth: " + e.getMessage());
      }
    }
    BandwidthSchedule schedule = schedule(wan);
    if (role == Role.STANDBY && wanPeer == null && (wan.has("bandwidth") || wan.has("bandwidthSchedule"))) {
      problems.add(
          "wan.bandwidth and wan.bandwidthSchedule are for a primary (the sending side of the link); on a standby they apply only once it is promoted, which needs wan.peer (the primary's WAN listen address)");
    }

    List<VolumeConfig> volumes = new ArrayList<>();
    JsonNode vols = root.get("volumes");
    if (vols == null || !vols.isArray() || vols.isEmpty()) {
      problems.add("volumes must list at least one volume, e.g. volumes: [{name: vol0, size: 1GiB}]");
    } else {
      Set<String> names = new HashSet<>();
      for (int i = 0; i < vols.size(); i++) {
        JsonNode v = vols.get(i);
        String at = "volumes[" + i + "]";
        if (!v.isObject()) {
          problems.add(at + " must be a mapping with name and size (and optionally historyCapacity)");
          continue;
        }
        known(v, at + ".", "name", "size", "members", "mode", "syncTimeout", "onSyncTimeout", "historyCapacity", "bitmapGranularity", "retention", "retentionMaxBytes");
        String name = text(v, at + ".name", null);
        if (name == null) {
          problems.add(at + ".name is required");
          continue;
        }
        if (!VOLUME_NAME.matcher(name).matches()) {
          problems.add("volume \"" + name + "\": the name is not allowed (letters, digits, '.', '_', '-', up to 64 characters)");
          continue;
        }
        if (!names.add(name)) {
          problems.add("volume \"" + name + "\" is listed twice");
        }
        List<VolumeConfig.Member> members = new ArrayList<>();
        long size;
        if (v.has("members")) {
          // A consistency group: its members are laid out one after the other in one replicated volume.
          if (v.has("size")) {
            problems.add("volume \"" + name + "\": a consistency group takes its size from its members; remove size");
            continue;
          }
          JsonNode ms = v.get("members");
          if (!ms.isArray() || ms.isEmpty()) {
            problems.add("volume \"" + name + "\": members must list the group's volumes, e.g. members: [{name: db-data, size: 10GiB}, {name: db-log, size: 1GiB}]");
            continue;
          }
          long offset = 0;
          boolean ok = true;
          for (int m = 0; m < ms.size(); m++) {
            JsonNode mv = ms.get(m);
            String mat = at + ".members[" + m + "]";
            if (!mv.isObject()) {
              problems.add(mat + " must be a mapping with name and size");
              ok = false;
              continue;
            }
            known(mv, mat + ".", "name", "size");
            String mname = text(mv, mat + ".name", null);
            String msize = text(mv, mat + ".size", null);
            if (mname == null || msize == null) {
              problems.add(mat + " needs a name and a size");
              ok = false;
              continue;
            }
            if (!VOLUME_NAME.matcher(mname).matches()) {
              problems.add("volume \"" + mname + "\" (member of " + name + "): the name is not allowed (letters, digits, '.', '_', '-', up to 64 characters)");
              ok = false;
              continue;
            }
            if (!names.add(mname)) {
              problems.add("volume \"" + mname + "\" is listed twice");
            }
            long bytes = memberSize(mname, msize);
            if (bytes < 0) {
              ok = false;
              continue;
            }
            members.add(new VolumeConfig.Member(mname, offset, bytes));
            offset += bytes;
          }
          if (!ok) {
            continue;
          }
          size = offset;
        } else {
          String sizeText = text(v, at + ".size", null);
          if (sizeText == null) {
            problems.add("volume \"" + name + "\": size is required (or members, for a consistency group)");
            continue;
          }
          size = memberSize(name, sizeText);
          if (size < 0) {
            continue;
          }
        }
        ReplicationMode mode = ReplicationMode.ASYNC;
        String modeText = text(v, at + ".mode", "async");
        switch (modeText.toLowerCase(Locale.ROOT)) {
          case "async" -> mode = ReplicationMode.ASYNC;
          case "sync" -> mode = ReplicationMode.SYNC;
          default -> problems.add("volume \"" + name + "\": mode " + modeText + " is not allowed (async or sync)");
        }
        Duration timeout = VolumeConfig.DEFAULT_SYNC_POLICY.timeout();
        String timeoutText = text(v, at + ".syncTimeout", Durations.format(timeout));
        try {
          timeout = Durations.parse(timeoutText);
          if (timeout.isZero()) {
            problems.add("volume \"" + name + "\": syncTimeout must be more than 0");
            timeout = VolumeConfig.DEFAULT_SYNC_POLICY.timeout();
          }
        } catch (IllegalArgumentException e) {
          problems.add("volume \"" + name + "\": syncTimeout " + e.getMessage());
        }
        SyncReplication.OnTimeout onTimeout = VolumeConfig.DEFAULT_SYNC_POLICY.onTimeout();
        String onTimeoutText = text(v, at + ".onSyncTimeout", onTimeout.label());
        switch (onTimeoutText.toLowerCase(Locale.ROOT)) {
          case "degrade" -> onTimeout = SyncReplication.OnTimeout.DEGRADE;
          case "block" -> onTimeout = SyncReplication.OnTimeout.BLOCK;
          default -> problems.add("volume \"" + name + "\": onSyncTimeout " + onTimeoutText + " is not allowed (degrade or block)");
        }
        if (mode == ReplicationMode.ASYNC && (v.has("syncTimeout") || v.has("onSyncTimeout"))) {
          problems.add("volume \"" + name + "\": syncTimeout and onSyncTimeout apply to mode: sync only");
        }
        long capacity = VolumeConfig.DEFAULT_HISTORY_CAPACITY;
        String capacityText = v.has("historyCapacity") ? text(v, at + ".historyCapacity", null) : null;
        if (capacityText != null) {
          try {
            capacity = DataSize.parse(capacityText).bytes();
          } catch (IllegalArgumentException e) {
            problems.add("volume \"" + name + "\": historyCapacity " + e.getMessage());
            continue;
          }
          if (capacity < VolumeConfig.MIN_HISTORY_CAPACITY) {
            problems.add("volume \"" + name + "\": historyCapacity " + capacityText + " is not allowed (at least 1 MiB; default 8GiB)");
            continue;
          }
        }
        long granularity = VolumeConfig.DEFAULT_BITMAP_GRANULARITY;
        if (v.has("bitmapGranularity")) {
          try {
            granularity = DataSize.parse(text(v, at + ".bitmapGranularity", "")).bytes();
            if (granularity < 4096 || granularity > (4L << 20) || Long.bitCount(granularity) != 1) {
              problems.add("volume \"" + name + "\": bitmapGranularity must be a power of two from 4KiB to 4MiB");
              granularity = VolumeConfig.DEFAULT_BITMAP_GRANULARITY;
            }
          } catch (IllegalArgumentException e) {
            problems.add("volume \"" + name + "\": bitmapGranularity " + e.getMessage());
          }
        }
        History.Retention retention = retention(v, at, name);
        volumes.add(
            new VolumeConfig(name, size, mode, new SyncReplication.Policy(timeout, onTimeout), capacity, (int) granularity, retention == null ? History.Retention.NONE : retention, members));
      }
    }
    FailoverSettings failover = new FailoverSection(problems, base).parse(root.get("failover"), id, peerSiteId);
    if (!problems.isEmpty()) {
      return null;
    }
    return new SiteConfig(id, role, dataDir, nbdListen, adminListen, new WanSettings(wanListen, wanPeer, peerSiteId, peerCert, cert, key, bandwidth, schedule), compress, metrics, volumes, failover, adminToken);
  }

  /** A volume's (or group member's) size in bytes; -1 after reporting why it is not allowed. */
  private long memberSize(String name, String sizeText) {
    long size;
    try {
      size = DataSize.parse(sizeText).bytes();
    } catch (IllegalArgumentException e) {
      problems.add("volume \"" + name + "\": size " + e.getMessage());
      return -1;
    }
    if (size < VolumeConfig.MIN_SIZE || size % VolumeConfig.ALIGNMENT != 0) {
      problems.add("volume \"" + name + "\": size " + sizeText + " is not allowed (must be a multiple of 4096, at least 1 MiB)");
      return -1;
    }
    return size;
  }

  /** A volume's {@code retention} and {@code retentionMaxBytes}; null (after noting why) when invalid. */
  private History.Retention retention(JsonNode v, String at, String name) {
    Duration window = Duration.ZERO;
    long maxBytes = 0;
    if (v.has("retention")) {
      String t = text(v, at + ".retention", "0s");
      try {
        window = Durations.parse(t);
      } catch (IllegalArgumentException e) {
        problems.add("volume \"" + name + "\": retention " + e.getMessage() + "; it is how far back a standby can run a drill or promote (e.g. 1h; 0s for none)");
        return null;
      }
      if (window.compareTo(History.MAX_WINDOW) > 0) {
        problems.add("volume \"" + name + "\": retention " + t + " is longer than the 7 days a standby can keep (use retentionMaxBytes to bound its disk use)");
        return null;
      }
    }
    if (v.has("retentionMaxBytes")) {
      String t = text(v, at + ".retentionMaxBytes", "0");
      try {
        maxBytes = DataSize.parse(t).bytes();
      } catch (IllegalArgumentException e) {
        problems.add("volume \"" + name + "\": retentionMaxBytes " + e.getMessage());
        return null;
      }
      if (maxBytes != 0 && maxBytes < VolumeConfig.MIN_HISTORY_CAPACITY) {
        problems.add("volume \"" + name + "\": retentionMaxBytes " + t + " is not allowed (at least 1 MiB, or 0 for no cap)");
        return null;
      }
    }
    return new History.Retention(window, maxBytes);
  }

  private BandwidthSchedule schedule(JsonNode wan) {
    ZoneId zone = ZoneId.systemDefault();
    String zoneText = text(wan, "wan.timeZone", null);
    if (zoneText != null) {
      try {
        zone = ZoneId.of(zoneText);
      } catch (DateTimeException e) {
        problems.add("wan.timeZone \"" + zoneText + "\" is not a time zone (examples: Asia/Tokyo, UTC, +09:00)");
      }
    }
    JsonNode list = wan.get("bandwidthSchedule");
    if (list == null || list.isNull()) {
      return zoneText == null ? BandwidthSchedule.NONE : new BandwidthSchedule(List.of(), zone);
    }
    if (!list.isArray()) {
      problems.add("wan.bandwidthSchedule must be a list of windows, e.g. [{from: \"08:00\", to: \"18:00\", rate: 1500KB}]");
      return BandwidthSchedule.NONE;
    }
    List<BandwidthSchedule.Window> windows = new ArrayList<>();
    int[] owner = new int[24 * 60]; // which window (1-based) covers each minute of the day
    for (int i = 0; i < list.size(); i++) {
      String at = "wan.bandwidthSchedule[" + i + "]";
      JsonNode w = list.get(i);
      if (!w.isObject()) {
        problems.add(at + " must be a mapping with from, to and rate, e.g. {from: \"08:00\", to: \"18:00\", rate: 1500KB}");
        continue;
      }
      known(w, at + ".", "from", "to", "rate");
      LocalTime from = timeOfDay(w, at + ".from");
      LocalTime to = timeOfDay(w, at + ".to");
      String rateText = text(w, at + ".rate", null);
      Long rate = null;
      if (rateText == null) {
        problems.add(at + ".rate is required (e.g. 1500KB, or unlimited)");
      } else {
        try {
          rate = Bandwidth.parse(rateText);
        } catch (IllegalArgumentException e) {
          problems.add(at + ".rate: " + e.getMessage());
        }
      }
      if (from == null || to == null || rate == null) {
        continue;
      }
      if (from.equals(to)) {
        problems.add(at + ": from and to are both " + from + "; a window needs two different times (for all day, set wan.bandwidth)");
        continue;
      }
      BandwidthSchedule.Window window = new BandwidthSchedule.Window(from, to, rate);
      int start = from.getHour() * 60 + from.getMinute();
      int end = to.getHour() * 60 + to.getMinute();
      for (int m = start; m != end; m = (m + 1) % owner.length) {
        if (owner[m] != 0) {
          problems.add(at + " (" + from + "-" + to + ") overlaps wan.bandwidthSchedule[" + (owner[m] - 1) + "] (" + windows.get(owner[m] - 1).from() + "-" + windows.get(owner[m] - 1).to() + ") at " + LocalTime.of(m / 60, m % 60) + "; windows must not overlap");
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
    String t = text(w, qualified, null);
    if (t == null) {
      problems.add(qualified + " is required: a time of day HH:MM, e.g. \"08:00\"");
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
      problems.add(qualified + " \"" + t + "\" is not a time of day (HH:MM, 00:00 to 24:00; quote it in YAML: \"08:00\")");
      return null;
    }
  }

  private void known(JsonNode node, String prefix, String... keys) {
    Set<String> allowed = Set.of(keys);
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!allowed.contains(k)) {
        problems.add("unknown key " + prefix + k + " (allowed here: " + String.join(", ", keys) + ")");
      }
    }
  }

  private JsonNode object(JsonNode parent, String key) {
    JsonNode n = parent.get(key);
    if (n == null || n.isNull()) {
      if (key.equals("site")) {
        problems.add("site is required, with id and role");
      }
      return com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
    }
    if (!n.isObject()) {
      problems.add(key + " must be a mapping");
      return com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
    }
    return n;
  }

  private String text(JsonNode parent, String qualified, String dflt) {
    String key = qualified.substring(qualified.lastIndexOf('.') + 1);
    JsonNode n = parent.get(key);
    if (n == null || n.isNull()) {
      if (dflt == null && !qualified.startsWith("wan.")) {
        problems.add(qualified + " is required");
      }
      return dflt;
    }
    if (!n.isValueNode()) {
      problems.add(qualified + " must be a single value");
      return dflt;
    }
    return n.asText();
  }

  private boolean bool(JsonNode parent, String qualified) {
    JsonNode n = parent.get(qualified.substring(qualified.lastIndexOf('.') + 1));
    if (!n.isBoolean()) {
      problems.add(qualified + " must be true or false");
      return true;
    }
    return n.booleanValue();
  }

  private HostPort address(JsonNode parent, String qualified, String dflt) {
    String key = qualified.substring(qualified.lastIndexOf('.') + 1);
    JsonNode n = parent.get(key);
    String t = n == null || n.isNull() ? dflt : n.asText();
    if (t == null) {
      return null;
    }
    try {
      return HostPort.parse(t);
    } catch (IllegalArgumentException e) {
      problems.add(qualified + ": " + e.getMessage());
      return null;
    }
  }

  private Path path(JsonNode parent, String qualified) {
    String key = qualified.substring(qualified.lastIndexOf('.') + 1);
    JsonNode n = parent.get(key);
    if (n == null || n.isNull()) {
      return null;
    }
    return base.resolve(n.asText()).normalize();
  }
}
