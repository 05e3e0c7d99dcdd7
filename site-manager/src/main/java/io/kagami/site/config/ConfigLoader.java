package io.kagami.site.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
 *
 * <p>An N:1 standby (one standby for several primary sites) lists its primaries instead of {@code
 * wan.peerSiteId}, {@code wan.peerCertificate} and {@code volumes} (and has no {@code wan.peer} and
 * no {@code failover}); each peer's volumes are held and exported as {@code <siteId>.<name>} (see
 * {@link PeerConfig}):
 *
 * <pre>
 * peers:
 *   - siteId: tokyo
 *     certificate: tokyo.crt  # the only certificate trusted for tokyo
 *     historyQuota: 10GiB     # optional: standby history kept for tokyo's drills, shared by its volumes
 *     volumes: [{name: vol0, size: 1GiB}]      # exported here as tokyo.vol0
 *   - siteId: osaka
 *     certificate: osaka.crt
 *     volumes: [{name: vol0, size: 1GiB}]      # osaka.vol0
 * </pre>
 *
 * <p>This class reads {@code site}, {@code dataDir}, {@code compression}, {@code nbd} and {@code
 * admin} and assembles the {@link SiteConfig}; each larger section has its own reader ({@link
 * WanSection}, {@link VolumesSection}, {@link FailoverSection}), all adding to one list of problems
 * through a {@link ConfigReader}.
 */
public final class ConfigLoader {
  private static final Pattern SITE_ID = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

  private final List<String> problems = new ArrayList<>();
  private final Path base;
  private final ConfigReader r;

  private ConfigLoader(Path base) {
    this.base = base;
    this.r = new ConfigReader(problems, base);
  }

  public static SiteConfig load(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (IOException e) {
      throw new ConfigException(
          file.toString(), List.of("cannot read the configuration file: " + e.getMessage()));
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
      throw new ConfigException(
          source, List.of("not valid YAML" + where + ": " + e.getOriginalMessage()));
    }
    if (root == null || !root.isObject()) {
      throw new ConfigException(
          source,
          List.of(
              "the configuration must be a YAML mapping with keys site, dataDir, nbd, admin, wan, volumes"));
    }
    ConfigLoader l = new ConfigLoader(base);
    SiteConfig config = l.site(root);
    if (!l.problems.isEmpty()) {
      throw new ConfigException(source, l.problems);
    }
    return config;
  }

  private SiteConfig site(JsonNode root) {
    r.known(
        root,
        "",
        "site",
        "dataDir",
        "compression",
        "nbd",
        "admin",
        "wan",
        "volumes",
        "failover",
        "peers");
    JsonNode site = r.object(root, "site");
    r.known(site, "site.", "id", "role");
    String id = r.text(site, "site.id", null);
    if (id != null && !SITE_ID.matcher(id).matches()) {
      r.problem(
          "site.id \""
              + id
              + "\" is not allowed (lower-case letters, digits and '-', 1-63 characters)");
    }
    Role role = null;
    String roleText = r.text(site, "site.role", null);
    if (roleText != null) {
      try {
        role = Role.valueOf(roleText.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        r.problem("site.role \"" + roleText + "\" is not allowed (primary or standby)");
      }
    }
    String dataDirText = r.text(root, "dataDir", null);
    Path dataDir = dataDirText == null ? null : base.resolve(dataDirText).normalize();
    boolean compress = !root.has("compression") || r.bool(root, "compression");

    JsonNode nbd = r.object(root, "nbd");
    r.known(nbd, "nbd.", "listen");
    HostPort nbdListen = r.address(nbd, "nbd.listen", "0.0.0.0:" + SiteConfig.DEFAULT_NBD_PORT);
    JsonNode admin = r.object(root, "admin");
    r.known(admin, "admin.", "listen", "metrics", "tokenFile");
    HostPort adminListen =
        r.address(admin, "admin.listen", "127.0.0.1:" + SiteConfig.DEFAULT_ADMIN_PORT);
    boolean metrics = !admin.has("metrics") || r.bool(admin, "admin.metrics");
    Path adminToken = r.path(admin, "admin.tokenFile");
    if (adminToken != null && Files.isDirectory(adminToken)) {
      r.problem(
          "admin.tokenFile "
              + adminToken
              + " is a directory: name the file that holds the token (it is created there if missing)");
    }

    boolean nToOne = root.has("peers");
    WanSettings wan = new WanSection(r).parse(root, role, id, nToOne);
    List<VolumeConfig> volumes;
    List<PeerConfig> peers;
    FailoverSettings failover = null;
    if (nToOne) {
      if (root.has("volumes")) {
        r.problem(
            "volumes does not go with peers: on an N:1 standby each peer lists its own volumes (peers[].volumes)");
      }
      if (root.has("failover")) {
        r.problem(
            "failover does not go with peers: an N:1 standby is never promoted automatically (promote a peer's replica by hand, see the README)");
      }
      peers = new PeersSection(r).parse(root.get("peers"), id);
      volumes = peers.stream().flatMap(p -> p.volumes().stream()).toList();
    } else {
      volumes = new VolumesSection(r).parse(root);
      peers = List.of(new PeerConfig(wan.peerSiteId(), wan.peerCertificate(), false, volumes, 0));
      failover =
          new FailoverSection(problems, base).parse(root.get("failover"), id, wan.peerSiteId());
    }
    if (!problems.isEmpty()) {
      return null;
    }
    return new SiteConfig(
        id,
        role,
        dataDir,
        nbdListen,
        adminListen,
        wan,
        compress,
        metrics,
        volumes,
        failover,
        adminToken,
        peers);
  }
}
