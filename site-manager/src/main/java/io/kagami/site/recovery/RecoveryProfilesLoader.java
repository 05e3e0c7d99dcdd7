package io.kagami.site.recovery;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
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
 *   lab: {isolated: true}       # no bridge: QEMU user networking, restrict=on (reaches nothing)
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
 *   bootFailure: ["Kernel panic - not syncing", "Gave up waiting for root", "Dropping to a shell"]
 *                               # console texts that fail the boot at once ([]: none)
 *   timeouts: {healthy: 10m, shutdown: 2m, attempts: 1}  # attempts: starts before it fails
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
 * same on every read; without {@code drillNetwork} it is left out of a drill. This class reads the
 * structure (servers, networks, NICs, names); {@link ProfileValues} reads each setting and holds
 * the problems.
 */
public final class RecoveryProfilesLoader {
  /** The file's name beside the site's YAML unless the site's {@code recovery:} names another. */
  public static final String DEFAULT_FILE = "recovery.yaml";

  private static final Pattern SERVER = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
  private static final Pattern BRIDGE = Pattern.compile("[A-Za-z0-9_.-]{1,15}");
  private static final Pattern MAC = Pattern.compile("([0-9a-f]{2}:){5}[0-9a-f]{2}");
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
    "bootFailure",
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
    "bootFailure",
    "timeouts"
  };

  /**
   * The file read ({@code source}), its profiles (null when it could not be read at all) and every
   * problem found.
   */
  public record Result(String source, RecoveryProfiles profiles, List<PlanProblem> problems) {
    public Result {
      problems = List.copyOf(problems);
    }
  }

  private final ProfileValues r;
  private final String source;

  private RecoveryProfilesLoader(String source) {
    this.source = source;
    this.r = new ProfileValues(source);
  }

  /** Reads {@code file}; a missing or unreadable file is a problem, not an exception. */
  public static Result load(Path file) {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      return new Result(
          file.toString(),
          null,
          List.of(
              PlanProblem.general(
                  null,
                  file
                      + ": no recovery profiles: the file does not exist (write one beside the site's YAML, see the README's \"Recovery profiles\")")));
    } catch (IOException e) {
      return new Result(
          file.toString(),
          null,
          List.of(PlanProblem.general(null, file + ": cannot be read: " + e.getMessage())));
    }
    return parse(text, file.toString());
  }

  /** Parses {@code yaml}; {@code source} names it in problems. */
  public static Result parse(String yaml, String source) {
    JsonNode root;
    try {
      // A key given twice is a mistake to name, not a value to drop silently.
      root =
          new ObjectMapper(new YAMLFactory())
              .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
              .readTree(yaml);
    } catch (JacksonException e) {
      String where = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")";
      return new Result(
          source,
          null,
          List.of(
              PlanProblem.general(
                  null, source + ": not valid YAML" + where + ": " + e.getOriginalMessage())));
    }
    if (root == null || !root.isObject()) {
      return new Result(
          source,
          null,
          List.of(
              PlanProblem.general(
                  null,
                  source + ": must be a YAML mapping with keys networks, defaults, servers")));
    }
    RecoveryProfilesLoader l = new RecoveryProfilesLoader(source);
    RecoveryProfiles profiles = l.profiles(root);
    return new Result(source, profiles, l.r.problems());
  }

  private RecoveryProfiles profiles(JsonNode root) {
    r.known(root, null, "", "networks", "defaults", "servers");
    Map<String, String> networks = networks(root.get("networks"));
    JsonNode d = root.get("defaults");
    ProfileValues.Defaults defaults = ProfileValues.BUILT_IN;
    if (d != null && !d.isNull()) {
      if (d.isObject()) {
        r.known(d, null, "defaults.", DEFAULT_KEYS);
        defaults = r.values(null, "defaults.", d, ProfileValues.BUILT_IN);
      } else {
        r.general(
            "defaults", "defaults must be a mapping of keys: " + String.join(", ", DEFAULT_KEYS));
      }
    }
    List<ServerProfile> servers = new ArrayList<>();
    JsonNode list = root.get("servers");
    if (list == null || !list.isArray() || list.isEmpty()) {
      r.general(
          "servers", "servers must list at least one server: - {name: db, volumes: [db-data]}");
      return new RecoveryProfiles(source, networks, servers);
    }
    Set<String> names = new HashSet<>();
    Map<String, String> macs = new HashMap<>();
    for (int i = 0; i < list.size(); i++) {
      JsonNode s = list.get(i);
      if (!s.isObject() || !s.hasNonNull("name") || !s.get("name").isValueNode()) {
        r.general("servers[" + i + "]", "servers[" + i + "] must be a mapping with a name");
        continue;
      }
      String name = s.get("name").asText();
      if (!SERVER.matcher(name).matches()) {
        r.general(
            "servers[" + i + "].name",
            "servers["
                + i
                + "].name \""
                + name
                + "\" is not allowed (letters, digits, '.', '_' and '-', 1-63 characters)");
        continue;
      }
      if (!names.add(name)) {
        r.problem(name, "name", "name is listed twice in servers: give each server one entry");
        continue;
      }
      ServerProfile p = server(name, s, defaults, networks);
      for (int n = 0; n < p.nics().size(); n++) {
        String other = macs.putIfAbsent(p.nics().get(n).mac(), name + " nics[" + n + "]");
        if (other != null) {
          r.problem(
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
      r.general("networks", "networks must map names to bridges: prod: {bridge: br-prod}");
      return out;
    }
    for (Map.Entry<String, JsonNode> e : n.properties()) {
      String key = "networks." + e.getKey();
      JsonNode v = e.getValue();
      String bridge = v != null && v.isObject() ? v.path("bridge").asText(null) : null;
      if (v != null && v.isObject()) {
        r.known(v, null, key + ".", "bridge", "isolated");
        if (bridge == null && v.path("isolated").asBoolean(false)) {
          out.put(e.getKey(), RecoveryProfiles.ISOLATED);
          continue;
        }
      }
      if (bridge == null || !BRIDGE.matcher(bridge).matches()) {
        r.general(
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
      String name, JsonNode s, ProfileValues.Defaults defaults, Map<String, String> networks) {
    r.known(s, name, "", SERVER_KEYS);
    List<String> volumes = names(name, "volumes", s.get("volumes"));
    if (volumes.isEmpty() && !s.has("volumes")) {
      r.problem(
          name,
          "volumes",
          "volumes is required: this site's volumes in disk order, e.g. [db-data]");
    } else if (volumes.isEmpty()) {
      r.problem(name, "volumes", "volumes must name at least one of this site's volumes");
    }
    ProfileValues.Defaults v = r.values(name, "", s, defaults);
    List<ServerProfile.Nic> nics = new ArrayList<>();
    JsonNode list = s.get("nics");
    if (list != null && !list.isNull()) {
      if (!list.isArray()) {
        r.problem(name, "nics", "nics must be a list: - {network: prod, drillNetwork: drill}");
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
        v.bootFailure(),
        v.timeouts());
  }

  private ServerProfile.Nic nic(
      String server, int i, JsonNode n, String model, Map<String, String> networks) {
    String key = "nics[" + i + "]";
    if (n == null || !n.isObject()) {
      r.problem(server, key, key + " must be a mapping: {network: prod, drillNetwork: drill}");
      return null;
    }
    r.known(n, server, key + ".", "network", "drillNetwork", "mac", "model");
    String network = n.path("network").asText(null);
    if (network == null) {
      r.problem(
          server,
          key + ".network",
          key
              + ".network is required (one of networks: "
              + String.join(", ", networks.keySet())
              + ")");
    } else if (!networks.containsKey(network)) {
      r.problem(
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
      r.problem(
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
        && !networks.get(drill).equals(RecoveryProfiles.ISOLATED)
        && networks.get(drill).equals(networks.get(network))) {
      r.problem(
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
      r.problem(
          server,
          key + ".mac",
          key + ".mac \"" + mac + "\" is not a MAC address (lower-case, like 52:54:00:12:34:56)");
      mac = derivedMac(server, i);
    }
    String m = n.hasNonNull("model") ? n.get("model").asText() : model;
    if (!ProfileValues.NIC_MODELS.contains(m)) {
      r.problem(
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
      r.problem(server, key, key + " must be a list of names, e.g. [db-data, db-log]");
      return out;
    }
    for (int i = 0; i < n.size(); i++) {
      if (!n.get(i).isValueNode()) {
        r.problem(server, key + "[" + i + "]", key + "[" + i + "] must be a name");
      } else if (out.contains(n.get(i).asText())) {
        r.problem(
            server,
            key + "[" + i + "]",
            key + "[" + i + "] \"" + n.get(i).asText() + "\" is listed twice");
      } else {
        out.add(n.get(i).asText());
      }
    }
    return out;
  }
}
