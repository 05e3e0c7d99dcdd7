package io.kagami.site.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
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
 * journal:
 *   reserve: 64MiB            # free space kept on the journal's filesystem: writes that would eat
 *                             #   into it are refused with ENOSPC (default 64MiB; 0 turns it off)
 *   walSize: 64MiB            # RocksDB WAL bound, and the most allocated up front per WAL file
 *                             #   (default 64MiB, at least 1MiB)
 * memory:
 *   budget: 512MiB            # everything the site process holds in memory (default 512MiB, half
 *                             #   of a 1 GiB appliance): heap, off-heap buffers, RocksDB; each
 *                             #   cache and in-flight window is a share of it (see MemoryBudget)
 * nbd:
 *   listen: 0.0.0.0:10809     # NBD exports (read-only on a standby)
 * admin:
 *   listen: 127.0.0.1:9480    # HTTP(S) status/metrics/control
 *   tls: true                 # HTTPS (TLS 1.3). Default: false on a loopback listen address,
 *                             #   true on any other; false is refused off loopback (the token
 *                             #   would travel in clear)
 *   certificate: admin.crt    # optional, with privateKey: what the admin port presents (PEM);
 *   privateKey: admin.key     #   default: the site's WAN certificate (wan.certificate or the
 *                             #   generated <dataDir>/tls/site.crt)
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
 * verify:
 *   rate: 20MiB/s             # primary: continuous verification of the standby's replica, region
 *                             #   bytes per second and volume (default 20MiB/s; off: only on demand)
 * recovery: recovery.yaml     # the recovery profiles (default: recovery.yaml beside this file),
 *                             #   read by kagami recover plan, not at start (see RecoveryProfilesLoader)
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
 * through a {@link ConfigReader}, which records the key of each ({@link Problems}). Listen
 * addresses that would take the same port are found here ({@link ListenAddresses}); what the
 * configuration names on the machine (data directory, certificates, filesystem size, free ports) is
 * checked by {@link #check}, as {@code kagami run} and {@code kagami config check} do before
 * anything starts ({@link MachineCheck}).
 */
public final class ConfigLoader {
  private static final Pattern SITE_ID = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

  private final Problems problems = new Problems();
  private final Path base;
  private final ConfigReader r;
  private final MachineCheck machine;

  private ConfigLoader(Path base, MachineCheck machine) {
    this.base = base;
    this.r = new ConfigReader(problems, base);
    this.machine = machine;
  }

  /**
   * The configuration in {@code file}, read and validated, without looking at the machine (for
   * verbs that only read it); throws {@link ConfigException} with every problem.
   */
  public static SiteConfig load(Path file) {
    return parse(read(file), file.toString(), file.toAbsolutePath().getParent());
  }

  /**
   * Everything {@link #load} checks and the machine the site is to run on ({@link MachineCheck}:
   * data directory, certificates, volume sizes against the filesystem, and with {@code probePorts}
   * whether each listen port is free), every problem at once. Creates and writes nothing; the port
   * probe binds for an instant. Never throws for a bad configuration: the result says.
   */
  public static ConfigCheck check(Path file, boolean probePorts) {
    try {
      return inspect(
          read(file),
          file.toString(),
          file.toAbsolutePath().getParent(),
          new MachineCheck(probePorts));
    } catch (ConfigException e) {
      return new ConfigCheck(null, e.problems(), List.of());
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      String why =
          Files.isDirectory(file)
              ? "it is a directory; name the YAML file"
              : Files.exists(file) ? e.getMessage() : "it does not exist";
      throw new ConfigException(
          file.toString(), List.of("cannot read the configuration file: " + why));
    }
  }

  /** Parses {@code yaml}; relative paths resolve against {@code base}. */
  public static SiteConfig parse(String yaml, String source, Path base) {
    return inspect(yaml, source, base, null).orThrow();
  }

  /** {@code machine}: null to skip the machine's checks. */
  static ConfigCheck inspect(String yaml, String source, Path base, MachineCheck machine) {
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
    ConfigLoader l = new ConfigLoader(base, machine);
    SiteConfig config = l.site(root);
    return new ConfigCheck(
        l.problems.isEmpty() ? config : null,
        l.problems.problems(source),
        l.problems.warnings(source));
  }

  private SiteConfig site(JsonNode root) {
    r.known(
        root,
        "",
        "site",
        "dataDir",
        "compression",
        "journal",
        "memory",
        "nbd",
        "admin",
        "wan",
        "volumes",
        "failover",
        "recovery",
        "peers",
        "verify");
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

    JournalSettings journal = journal(root);
    VerifySettings verify = verify(root);

    JsonNode nbd = r.object(root, "nbd");
    r.known(nbd, "nbd.", "listen");
    HostPort nbdListen = r.address(nbd, "nbd.listen", "0.0.0.0:" + SiteConfig.DEFAULT_NBD_PORT);
    JsonNode admin = r.object(root, "admin");
    r.known(admin, "admin.", "listen", "metrics", "tokenFile", "tls", "certificate", "privateKey");
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

    boolean adminTls = adminTls(admin, adminListen);
    Path adminCertificate = r.path(admin, "admin.certificate");
    Path adminKey = r.path(admin, "admin.privateKey");
    if ((adminCertificate == null) != (adminKey == null)) {
      r.problem(
          "admin.certificate and admin.privateKey go together: give both (PEM files) or neither (the site's own certificate is used)");
    } else if (adminCertificate != null && !adminTls) {
      r.problem(
          "admin.certificate is set but admin.tls is false: the certificate is for HTTPS on the admin port");
    }
    for (Path p : new Path[] {adminCertificate, adminKey}) {
      if (p != null && !Files.isRegularFile(p)) {
        r.problem("admin: " + p + " does not exist or is not a file");
      }
    }

    Path recovery = r.path(root, "recovery");
    boolean nToOne = root.has("peers");
    WanSettings wan = new WanSection(r).parse(root, role, id, nToOne);
    VolumesSection volumesSection = new VolumesSection(r);
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
      volumes = volumesSection.parse(root);
      peers = List.of(new PeerConfig(wan.peerSiteId(), wan.peerCertificate(), false, volumes, 0));
      failover =
          new FailoverSection(problems, base)
              .parse(root.get("failover"), id, wan.peerSiteId(), wan.peerCertificate());
    }
    Map<String, HostPort> listen = new LinkedHashMap<>();
    listen.put("nbd.listen", nbdListen);
    listen.put("admin.listen", adminListen);
    listen.put("wan.listen", wan.listen());
    ListenAddresses.check(listen, problems);
    MemoryBudget memory = memory(root, volumes == null ? 0 : volumes.size());
    // A draft while there are problems (the values that had one are null): the machine's checks
    // look at what is there, so that every problem is reported at once.
    SiteConfig config =
        new SiteConfig(
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
            journal,
            recovery != null ? recovery : base.resolve("recovery.yaml").normalize(),
            peers,
            adminTls,
            adminCertificate,
            adminKey,
            memory,
            verify);
    if (machine != null) {
      machine.check(config, volumesSection.sizeKeys(), problems);
    }
    return config;
  }

  private JournalSettings journal(JsonNode root) {
    JsonNode j = r.object(root, "journal");
    r.known(j, "journal.", "reserve", "walSize");
    long reserve = size(j, "journal.reserve", JournalSettings.DEFAULT.reserveBytes(), 0, "0");
    long wal = size(j, "journal.walSize", JournalSettings.DEFAULT.walBytes(), 1L << 20, "1 MiB");
    return new JournalSettings(reserve, wal);
  }

  /** {@code memory.budget}, checked against what {@code volumes} volumes need at least. */
  private MemoryBudget memory(JsonNode root, int volumes) {
    JsonNode m = r.object(root, "memory");
    r.known(m, "memory.", "budget");
    long budget = size(m, "memory.budget", MemoryBudget.DEFAULT_BYTES, 1, "1 byte");
    MemoryBudget b = new MemoryBudget(budget, volumes);
    String problem = b.problem();
    if (problem != null) {
      r.problem(problem);
    }
    return b;
  }

  /**
   * {@code verify.rate}: a size per second ({@code 20MiB/s}, the {@code /s} optional), or {@code 0}
   * / {@code off}; at most {@link VerifySettings#MAX_RATE}.
   */
  private VerifySettings verify(JsonNode root) {
    JsonNode v = r.object(root, "verify");
    r.known(v, "verify.", "rate");
    if (!v.has("rate")) {
      return VerifySettings.DEFAULT;
    }
    if (v.get("rate").isBoolean()) {
      // YAML reads a bare off/no/false as a boolean.
      if (!v.get("rate").booleanValue()) {
        return new VerifySettings(0);
      }
      r.problem("verify.rate must be a rate such as 20MiB/s, or off; not \"true\"");
      return VerifySettings.DEFAULT;
    }
    String text = r.text(v, "verify.rate", "").trim();
    if (text.equalsIgnoreCase("off") || text.equalsIgnoreCase("false") || text.equals("0")) {
      return new VerifySettings(0);
    }
    String size = text.endsWith("/s") ? text.substring(0, text.length() - 2) : text;
    long bytes;
    try {
      bytes = DataSize.parse(size).bytes();
    } catch (IllegalArgumentException e) {
      r.problem(
          "verify.rate \""
              + text
              + "\" is not a rate: give bytes per second such as 20MiB/s, or off ("
              + e.getMessage()
              + ")");
      return VerifySettings.DEFAULT;
    }
    if (bytes < 4096 || bytes > VerifySettings.MAX_RATE) {
      r.problem(
          "verify.rate \""
              + text
              + "\" is not allowed (4KiB/s .. 4GiB/s, or off; default "
              + new DataSize(VerifySettings.DEFAULT_RATE)
              + "/s)");
      return VerifySettings.DEFAULT;
    }
    return new VerifySettings(bytes);
  }

  /**
   * The size at {@code key} of {@code section}, {@code absent} when not set; at least {@code least}
   * (named in the problem as {@code leastText}).
   */
  private long size(JsonNode section, String key, long absent, long least, String leastText) {
    String field = key.substring(key.indexOf('.') + 1);
    if (!section.has(field)) {
      return absent;
    }
    String text = r.text(section, key, "");
    long bytes;
    try {
      bytes = DataSize.parse(text).bytes();
    } catch (IllegalArgumentException e) {
      r.problem(key + " " + e.getMessage());
      return absent;
    }
    if (bytes < least) {
      r.problem(
          key
              + " "
              + text
              + " is not allowed (at least "
              + leastText
              + "; default "
              + new DataSize(absent)
              + ")");
      return absent;
    }
    return bytes;
  }

  /**
   * {@code admin.tls}: true, false (also written on/off); by default true unless {@code listen} is
   * a loopback address. Plain HTTP is refused anywhere else: a request there (and the token it
   * carries) could be read on the network.
   */
  private boolean adminTls(JsonNode admin, HostPort listen) {
    boolean loopback = listen != null && listen.isLoopback();
    JsonNode n = admin.get("tls");
    if (n == null || n.isNull()) {
      return !loopback;
    }
    Boolean tls =
        n.isBoolean()
            ? Boolean.valueOf(n.booleanValue())
            : switch (n.asText().toLowerCase(Locale.ROOT)) {
              case "on", "true", "yes" -> Boolean.TRUE;
              case "off", "false", "no" -> Boolean.FALSE;
              default -> null;
            };
    if (tls == null) {
      r.problem("admin.tls must be true or false (on/off), not \"" + n.asText() + "\"");
      return !loopback;
    }
    if (!tls && listen != null && !loopback) {
      r.problem(
          "admin.tls: false is allowed only when admin.listen is a loopback address (127.0.0.1, ::1), not "
              + listen
              + ": elsewhere requests and the admin token would travel in clear; remove admin.tls (HTTPS is the default there) or listen on 127.0.0.1");
    }
    return tls;
  }
}
