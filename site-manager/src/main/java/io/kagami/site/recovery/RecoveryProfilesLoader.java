package io.kagami.site.recovery;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.kagami.site.config.DataSize;
import io.kagami.site.config.Durations;
import io.kagami.site.config.HostPort;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads a site's recovery.yaml into {@link RecoveryProfiles} and validates every value, collecting
 * each problem as a {@link PlanProblem} that names the server and the key (a bad value is replaced
 * by its default so the rest is still checked, and every problem is reported at once):
 *
 * <pre>
 * networks:                     # the DR host's bridges, by the names NICs use
 *   prod: {bridge: br-prod}
 *   drill: {bridge: br-drill}   # isolated (no uplink): drills attach here
 * defaults:                     # every server's values unless it sets its own
 *   vcpus: 2                    # 1..288, at most the DR host's CPUs
 *   memory: 2GiB                # at least 64 MiB, whole MiB; the servers together fit the DR host
 *   machine: q35                # q35 | pc (i440fx, has IDE) | pc-q35-X.Y | pc-i440fx-X.Y
 *   firmware: bios              # bios | uefi (OVMF on the DR host)
 *   diskBus: virtio             # virtio | sata | ide (guests without virtio drivers; machine pc)
 *   nicModel: virtio            # virtio | e1000 | rtl8139
 *   priority: 3                 # boot group 1..9: group 1 first, the next once it is healthy
 *   healthCheck: none           # {tcp: "10.0.0.5:5432"} | {http: "http://10.0.0.6/health"}
 *                               #   | {console: "login:"} | none
 *   timeouts: {healthy: 10m, shutdown: 2m}
 * servers:
 *   - name: db                  # letters, digits, '.', '_', '-'; 1-63 characters
 *     volumes: [db-data, db-log]  # this site's volumes in disk order; the first boots
 *     memory: 8GiB
 *     priority: 1
 *     nics:
 *       - {network: prod, drillNetwork: drill, mac: "52:54:00:12:34:56", model: virtio}
 *     healthCheck: {tcp: "10.0.0.5:5432"}
 *   - name: web
 *     volumes: [web-root]
 *     dependsOn: [db]           # started once db is healthy
 * </pre>
 *
 * A NIC without {@code mac} gets one derived from the server's name and the NIC's position, the
 * same on every read; without {@code drillNetwork} it is left out of a drill.
 */
public final class RecoveryProfilesLoader {
  /** The file's name beside the site's YAML unless the site's {@code recovery:} names another. */
  public static final String DEFAULT_FILE = "recovery.yaml";

  private static final Pattern SERVER = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
  private static final Pattern BRIDGE = Pattern.compile("[A-Za-z0-9_.-]{1,15}");
  private static final Pattern MAC = Pattern.compile("([0-9a-f]{2}:){5}[0-9a-f]{2}");
  private static final Pattern MACHINE =
      Pattern.compile("q35|pc|pc-q35-\\d+\\.\\d+|pc-i440fx-\\d+\\.\\d+");
  private static final Set<String> NIC_MODELS = Set.of("virtio", "e1000", "rtl8139");
  private static final String[] SERVER_KEYS = {
    "name",
    "volumes",
    "vcpus",
    "memory",
    "machine",
    "firmware",
    "diskBus",
    "nics",
    "priority",
    "dependsOn",
    "healthCheck",
    "timeouts"
  };
  private static final String[] DEFAULT_KEYS = {
    "vcpus",
    "memory",
    "machine",
    "firmware",
    "diskBus",
    "nicModel",
    "priority",
    "healthCheck",
    "timeouts"
  };

  /** Built-in defaults, used where neither the server nor {@code defaults:} sets a value. */
  static final Defaults BUILT_IN =
      new Defaults(
          2,
          DataSize.parse("2GiB"),
          "q35",
          Firmware.BIOS,
          DiskBus.VIRTIO,
          "virtio",
          3,
          new HealthCheck.None(),
          new ServerProfile.Timeouts(Duration.ofMinutes(10), Duration.ofMinutes(2)));

  /** The profiles read (null when the file could not be read at all) and every problem found. */
  public record Result(RecoveryProfiles profiles, List<PlanProblem> problems) {
    public Result {
      problems = List.copyOf(problems);
    }
  }

  record Defaults(
      int vcpus,
      DataSize memory,
      String machine,
      Firmware firmware,
      DiskBus diskBus,
      String nicModel,
      int priority,
      HealthCheck healthCheck,
      ServerProfile.Timeouts timeouts) {}

  private final List<PlanProblem> problems = new ArrayList<>();
  private final String source;

  private RecoveryProfilesLoader(String source) {
    this.source = source;
  }

  /** Reads {@code file}; a missing or unreadable file is a problem, not an exception. */
  public static Result load(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      return new Result(
          null,
          List.of(
              PlanProblem.general(
                  null,
                  file
                      + ": no recovery profiles: the file does not exist (write one beside the site's YAML, see the README's \"Recovery profiles\")")));
    } catch (IOException e) {
      return new Result(
          null, List.of(PlanProblem.general(null, file + ": cannot be read: " + e.getMessage())));
    }
    return parse(text, file.toString());
  }

  /** Parses {@code yaml}; {@code source} names it in problems. */
  public static Result parse(String yaml, String source) {
    JsonNode root;
    try {
      root = new ObjectMapper(new YAMLFactory()).readTree(yaml);
    } catch (JacksonException e) {
      String where = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")";
      return new Result(
          null,
          List.of(
              PlanProblem.general(
                  null, source + ": not valid YAML" + where + ": " + e.getOriginalMessage())));
    }
    if (root == null || !root.isObject()) {
      return new Result(
          null,
          List.of(
              PlanProblem.general(
                  null,
                  source + ": must be a YAML mapping with keys networks, defaults, servers")));
    }
    RecoveryProfilesLoader l = new RecoveryProfilesLoader(source);
    RecoveryProfiles profiles = l.profiles(root);
    return new Result(profiles, l.problems);
  }

  private RecoveryProfiles profiles(JsonNode root) {
    known(root, null, "", "networks", "defaults", "servers");
    Map<String, String> networks = networks(root.get("networks"));
    JsonNode d = root.get("defaults");
    Defaults defaults = BUILT_IN;
    if (d != null && !d.isNull()) {
      if (d.isObject()) {
        known(d, null, "defaults.", DEFAULT_KEYS);
        defaults = values(null, "defaults.", d, BUILT_IN);
      } else {
        general(
            "defaults", "defaults must be a mapping of keys: " + String.join(", ", DEFAULT_KEYS));
      }
    }
    List<ServerProfile> servers = new ArrayList<>();
    JsonNode list = root.get("servers");
    if (list == null || !list.isArray() || list.isEmpty()) {
      general("servers", "servers must list at least one server: - {name: db, volumes: [db-data]}");
      return new RecoveryProfiles(source, networks, servers);
    }
    Set<String> names = new HashSet<>();
    Map<String, String> macs = new HashMap<>();
    for (int i = 0; i < list.size(); i++) {
      JsonNode s = list.get(i);
      if (!s.isObject() || !s.hasNonNull("name") || !s.get("name").isValueNode()) {
        general("servers[" + i + "]", "servers[" + i + "] must be a mapping with a name");
        continue;
      }
      String name = s.get("name").asText();
      if (!SERVER.matcher(name).matches()) {
        general(
            "servers[" + i + "].name",
            "servers["
                + i
                + "].name \""
                + name
                + "\" is not allowed (letters, digits, '.', '_' and '-', 1-63 characters)");
        continue;
      }
      if (!names.add(name)) {
        problem(name, "name", "name is listed twice in servers: give each server one entry");
        continue;
      }
      ServerProfile p = server(name, s, defaults, networks);
      for (int n = 0; n < p.nics().size(); n++) {
        String other = macs.putIfAbsent(p.nics().get(n).mac(), name + " nics[" + n + "]");
        if (other != null) {
          problem(
              name,
              "nics[" + n + "].mac",
              "nics[" + n + "].mac " + p.nics().get(n).mac() + " is also " + other + "'s");
        }
      }
      servers.add(p);
    }
    return new RecoveryProfiles(source, networks, servers);
  }

  private Map<String, String> networks(JsonNode n) {
    Map<String, String> out = new LinkedHashMap<>();
    if (n == null || n.isNull()) {
      return out;
    }
    if (!n.isObject()) {
      general("networks", "networks must map names to bridges: prod: {bridge: br-prod}");
      return out;
    }
    for (Map.Entry<String, JsonNode> e : n.properties()) {
      String key = "networks." + e.getKey();
      JsonNode v = e.getValue();
      String bridge = v != null && v.isObject() ? v.path("bridge").asText(null) : null;
      if (v != null && v.isObject()) {
        known(v, null, key + ".", "bridge");
      }
      if (bridge == null || !BRIDGE.matcher(bridge).matches()) {
        general(
            key + ".bridge",
            key
                + ".bridge "
                + (bridge == null ? "is required" : "\"" + bridge + "\" is not allowed")
                + " (the DR host's bridge interface, 1-15 characters, e.g. {bridge: br-prod})");
        continue;
      }
      out.put(e.getKey(), bridge);
    }
    return out;
  }

  private ServerProfile server(
      String name, JsonNode s, Defaults defaults, Map<String, String> networks) {
    known(s, name, "", SERVER_KEYS);
    List<String> volumes = names(name, "volumes", s.get("volumes"));
    if (volumes.isEmpty() && !s.has("volumes")) {
      problem(
          name,
          "volumes",
          "volumes is required: this site's volumes in disk order, e.g. [db-data]");
    } else if (volumes.isEmpty()) {
      problem(name, "volumes", "volumes must name at least one of this site's volumes");
    }
    Defaults v = values(name, "", s, defaults);
    List<ServerProfile.Nic> nics = new ArrayList<>();
    JsonNode list = s.get("nics");
    if (list != null && !list.isNull()) {
      if (!list.isArray()) {
        problem(name, "nics", "nics must be a list: - {network: prod, drillNetwork: drill}");
      } else {
        for (int i = 0; i < list.size(); i++) {
          ServerProfile.Nic nic = nic(name, i, list.get(i), v.nicModel(), networks);
          if (nic != null) {
            nics.add(nic);
          }
        }
      }
    }
    List<String> dependsOn = names(name, "dependsOn", s.get("dependsOn"));
    return new ServerProfile(
        name,
        volumes,
        v.vcpus(),
        v.memory(),
        v.machine(),
        v.firmware(),
        v.diskBus(),
        nics,
        v.priority(),
        dependsOn,
        v.healthCheck(),
        v.timeouts());
  }

  private ServerProfile.Nic nic(
      String server, int i, JsonNode n, String model, Map<String, String> networks) {
    String key = "nics[" + i + "]";
    if (n == null || !n.isObject()) {
      problem(server, key, key + " must be a mapping: {network: prod, drillNetwork: drill}");
      return null;
    }
    known(n, server, key + ".", "network", "drillNetwork", "mac", "model");
    String network = n.path("network").asText(null);
    if (network == null) {
      problem(
          server,
          key + ".network",
          key
              + ".network is required (one of networks: "
              + String.join(", ", networks.keySet())
              + ")");
    } else if (!networks.containsKey(network)) {
      problem(
          server,
          key + ".network",
          key
              + ".network \""
              + network
              + "\" is not defined under networks"
              + (networks.isEmpty()
                  ? " (there are none)"
                  : " (defined: " + String.join(", ", networks.keySet()) + ")"));
    }
    String drill = n.path("drillNetwork").asText(null);
    if (drill != null && !networks.containsKey(drill)) {
      problem(
          server,
          key + ".drillNetwork",
          key
              + ".drillNetwork \""
              + drill
              + "\" is not defined under networks"
              + (networks.isEmpty()
                  ? " (there are none)"
                  : " (defined: " + String.join(", ", networks.keySet()) + ")"));
    } else if (drill != null
        && network != null
        && networks.get(drill) != null
        && networks.get(drill).equals(networks.get(network))) {
      problem(
          server,
          key + ".drillNetwork",
          key
              + ".drillNetwork \""
              + drill
              + "\" is the production network's bridge too: a drill's copy would answer on production addresses; name an isolated network");
    }
    String mac = n.path("mac").asText(null);
    if (mac == null) {
      mac = derivedMac(server, i);
    } else if (!MAC.matcher(mac).matches()) {
      problem(
          server,
          key + ".mac",
          key + ".mac \"" + mac + "\" is not a MAC address (lower-case, like 52:54:00:12:34:56)");
      mac = derivedMac(server, i);
    }
    String m = n.hasNonNull("model") ? n.get("model").asText() : model;
    if (!NIC_MODELS.contains(m)) {
      problem(
          server,
          key + ".model",
          key + ".model \"" + m + "\" is not allowed (virtio, e1000 or rtl8139)");
      m = "virtio";
    }
    return new ServerProfile.Nic(network, drill, mac, m);
  }

  /** A locally administered, stable MAC for a NIC that names none: QEMU's prefix 52:54:00. */
  static String derivedMac(String server, int nic) {
    int h = (server + "/" + nic).hashCode();
    return String.format("52:54:00:%02x:%02x:%02x", (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff);
  }

  /** The values {@code node} sets under {@code prefix}, each falling back to {@code base}. */
  private Defaults values(String server, String prefix, JsonNode node, Defaults base) {
    int vcpus = base.vcpus();
    if (node.has("vcpus")) {
      JsonNode n = node.get("vcpus");
      if (n.canConvertToInt() && n.isIntegralNumber() && n.asInt() >= 1 && n.asInt() <= 288) {
        vcpus = n.asInt();
      } else {
        bad(server, prefix, "vcpus", n, "a whole number 1..288");
      }
    }
    DataSize memory = base.memory();
    if (node.has("memory")) {
      JsonNode n = node.get("memory");
      try {
        DataSize m = DataSize.parse(n.asText());
        if (m.bytes() < (64L << 20) || m.bytes() % (1L << 20) != 0) {
          bad(server, prefix, "memory", n, "at least 64MiB, in whole MiB, e.g. 8GiB");
        } else {
          memory = m;
        }
      } catch (IllegalArgumentException e) {
        bad(server, prefix, "memory", n, "a size such as 8GiB or 512MiB");
      }
    }
    String machine = base.machine();
    if (node.has("machine")) {
      JsonNode n = node.get("machine");
      if (MACHINE.matcher(n.asText()).matches()) {
        machine = n.asText();
      } else {
        bad(server, prefix, "machine", n, "q35, pc, pc-q35-X.Y or pc-i440fx-X.Y");
      }
    }
    Firmware firmware = base.firmware();
    if (node.has("firmware")) {
      Firmware f = Firmware.of(node.get("firmware").asText());
      if (f == null) {
        bad(server, prefix, "firmware", node.get("firmware"), "bios or uefi");
      } else {
        firmware = f;
      }
    }
    DiskBus bus = base.diskBus();
    if (node.has("diskBus")) {
      DiskBus b = DiskBus.of(node.get("diskBus").asText());
      if (b == null) {
        bad(
            server,
            prefix,
            "diskBus",
            node.get("diskBus"),
            "virtio, sata or ide; sata or ide for guests without virtio drivers");
      } else {
        bus = b;
      }
    }
    String nicModel = base.nicModel();
    if (node.has("nicModel")) {
      if (NIC_MODELS.contains(node.get("nicModel").asText())) {
        nicModel = node.get("nicModel").asText();
      } else {
        bad(server, prefix, "nicModel", node.get("nicModel"), "virtio, e1000 or rtl8139");
      }
    }
    int priority = base.priority();
    if (node.has("priority")) {
      JsonNode n = node.get("priority");
      if (n.isIntegralNumber() && n.asInt() >= 1 && n.asInt() <= 9) {
        priority = n.asInt();
      } else {
        bad(server, prefix, "priority", n, "a boot group 1..9, 1 starting first");
      }
    }
    HealthCheck health =
        node.has("healthCheck")
            ? healthCheck(server, prefix, node.get("healthCheck"), base.healthCheck())
            : base.healthCheck();
    ServerProfile.Timeouts timeouts = base.timeouts();
    if (node.has("timeouts")) {
      timeouts = timeouts(server, prefix, node.get("timeouts"), base.timeouts());
    }
    return new Defaults(
        vcpus, memory, machine, firmware, bus, nicModel, priority, health, timeouts);
  }

  private HealthCheck healthCheck(String server, String prefix, JsonNode n, HealthCheck dflt) {
    String key = prefix + "healthCheck";
    String usage =
        "{tcp: \"10.0.0.5:5432\"}, {http: \"http://10.0.0.6/health\"}, {console: \"login:\"} or none";
    if (n.isTextual() && n.asText().equals("none")) {
      return new HealthCheck.None();
    }
    if (!n.isObject() || n.size() != 1) {
      problemAt(server, key, key + " must be one of " + usage);
      return dflt;
    }
    String kind = n.fieldNames().next();
    String value = n.get(kind).asText();
    switch (kind) {
      case "tcp" -> {
        try {
          HostPort hp = HostPort.parse(value);
          return new HealthCheck.Tcp(hp.host(), hp.port());
        } catch (IllegalArgumentException e) {
          problemAt(
              server,
              key + ".tcp",
              key
                  + ".tcp \""
                  + value
                  + "\": "
                  + e.getMessage()
                  + " (the guest's address and port, e.g. 10.0.0.5:5432)");
          return dflt;
        }
      }
      case "http" -> {
        try {
          URI u = new URI(value);
          if (!("http".equals(u.getScheme()) || "https".equals(u.getScheme()))
              || u.getHost() == null) {
            throw new URISyntaxException(value, "not an http:// or https:// URL with a host");
          }
          return new HealthCheck.Http(value);
        } catch (URISyntaxException e) {
          problemAt(
              server,
              key + ".http",
              key + ".http \"" + value + "\" is not an http:// or https:// URL with a host");
          return dflt;
        }
      }
      case "console" -> {
        if (value.isBlank() || value.contains("\n")) {
          problemAt(
              server,
              key + ".console",
              key + ".console must be a non-empty text of one line, e.g. \"login:\"");
          return dflt;
        }
        return new HealthCheck.ConsoleMarker(value);
      }
      default -> {
        problemAt(server, key, key + " \"" + kind + "\" is not a kind of check (" + usage + ")");
        return dflt;
      }
    }
  }

  private ServerProfile.Timeouts timeouts(
      String server, String prefix, JsonNode n, ServerProfile.Timeouts base) {
    String key = prefix + "timeouts";
    if (!n.isObject()) {
      problemAt(server, key, key + " must be a mapping: {healthy: 10m, shutdown: 2m}");
      return base;
    }
    known(n, server, key + ".", "healthy", "shutdown");
    Duration healthy = duration(server, key + ".healthy", n.get("healthy"), base.healthy());
    Duration shutdown = duration(server, key + ".shutdown", n.get("shutdown"), base.shutdown());
    return new ServerProfile.Timeouts(healthy, shutdown);
  }

  private Duration duration(String server, String key, JsonNode n, Duration dflt) {
    if (n == null || n.isNull()) {
      return dflt;
    }
    try {
      Duration d = Durations.parse(n.asText());
      if (d.isZero()) {
        problemAt(server, key, key + " must be longer than 0");
        return dflt;
      }
      return d;
    } catch (IllegalArgumentException e) {
      problemAt(server, key, key + ": " + e.getMessage());
      return dflt;
    }
  }

  /** A list of names ({@code volumes}, {@code dependsOn}); a single name counts as a list. */
  private List<String> names(String server, String key, JsonNode n) {
    List<String> out = new ArrayList<>();
    if (n == null || n.isNull()) {
      return out;
    }
    if (n.isValueNode()) {
      out.add(n.asText());
      return out;
    }
    if (!n.isArray()) {
      problem(server, key, key + " must be a list of names, e.g. [db-data, db-log]");
      return out;
    }
    for (int i = 0; i < n.size(); i++) {
      if (!n.get(i).isValueNode()) {
        problem(server, key + "[" + i + "]", key + "[" + i + "] must be a name");
      } else if (out.contains(n.get(i).asText())) {
        problem(
            server,
            key + "[" + i + "]",
            key + "[" + i + "] \"" + n.get(i).asText() + "\" is listed twice");
      } else {
        out.add(n.get(i).asText());
      }
    }
    return out;
  }

  private void bad(String server, String prefix, String key, JsonNode value, String allowed) {
    problemAt(
        server,
        prefix + key,
        prefix + key + " " + shown(value) + " is not allowed (" + allowed + ")");
  }

  private static String shown(JsonNode value) {
    return value.isTextual() ? "\"" + value.asText() + "\"" : value.toString();
  }

  private void known(JsonNode node, String server, String prefix, String... keys) {
    Set<String> allowed = Set.of(keys);
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!allowed.contains(k)) {
        problemAt(
            server,
            prefix + k,
            "unknown key " + prefix + k + " (allowed here: " + String.join(", ", keys) + ")");
      }
    }
  }

  private void problemAt(String server, String key, String text) {
    if (server == null) {
      general(key, text);
    } else {
      problems.add(PlanProblem.of(server, key, text));
    }
  }

  private void problem(String server, String key, String text) {
    problems.add(PlanProblem.of(server, key, text));
  }

  private void general(String key, String text) {
    problems.add(PlanProblem.general(key, source + ": " + text));
  }
}
