package io.kagami.site.config;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.failover.FailoverConfig;
import io.kagami.failover.fence.FenceCommand;
import io.kagami.failover.monitor.MonitorConfig;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads the {@code failover:} section of a site's configuration for {@link ConfigLoader}, adding
 * every problem to the loader's list (so they are reported together with the rest):
 *
 * <pre>
 * failover:
 *   automatic: false           # explicit opt-in; false: heartbeats and status only, a human promotes
 *   witness: witness.example:7900      # `kagami witness`; required with automatic: true
 *   # or an etcd cluster instead of `kagami witness`:
 *   # witness: {etcd: ["http://10.0.0.1:2379", "http://10.0.0.2:2379", "http://10.0.0.3:2379"], prefix: /kagami}
 *   witnessTokenFile: witness.token    # a copy of the witness's --token-file (relative to this file)
 *   witnessCertificate: witness.crt    # the witness's certificate (or its CA), PEM: required when the
 *                                      #   witness speaks TLS (any address but loopback, or https://)
 *   peerAdmin: hiroshima.example:9480  # the peer's admin HTTP: second heartbeat path; required with automatic: true
 *   peerAdminCertificate: admin.crt    # what the peer's admin port presents (PEM); default wan.peerCertificate
 *   group: hiroshima+tokyo     # lease id at the witness; default: both site ids, sorted, joined by '+'
 *   heartbeatInterval: 1s      # heartbeats and lease renewals
 *   peerLostAfter: 8s          # silence on every path before the standby claims the lease
 *   selfFenceAfter: 6s         # a primary stops acknowledging writes this long after its last lease evidence
 *   lease: 10s                 # the witness's --lease (the witness's answer wins if shorter)
 *   fence:                     # optional: run before promotion; promotion waits for exit 0
 *     command: [/usr/sbin/fence_ipmilan, --verbose]
 *     options: {ip: 10.0.0.9, username: admin, password: secret}   # stdin key=value lines, plus action=off
 *     timeout: 60s
 *   monitors:                  # on the primary; failing monitorFailures times in a row requests failover
 *     - {name: db, type: postgres, host: 127.0.0.1, port: 5432, timeout: 5s}
 *     - {name: web, type: http, url: "http://127.0.0.1:8080/health"}
 *     - {name: app, type: tcp, host: 127.0.0.1, port: 8080}
 *   monitorFailures: 3
 *   monitorInterval: 5s
 * </pre>
 */
final class FailoverSection {
  private final List<String> problems;
  private final Path base;

  /** {@code base}: what relative paths resolve against (the configuration file's directory). */
  FailoverSection(List<String> problems, Path base) {
    this.problems = problems;
    this.base = base;
  }

  /** The section's settings, or null when absent or wrong (then a problem was added, if wrong). */
  FailoverSettings parse(JsonNode node, String siteId, String peerSiteId, Path wanPeerCertificate) {
    if (node == null || node.isNull()) {
      return null;
    }
    if (!node.isObject()) {
      problems.add(
          "failover must be a mapping (automatic, witness, peerAdmin, timings, fence, monitors)");
      return null;
    }
    int before = problems.size();
    known(
        node,
        "failover.",
        "automatic",
        "witness",
        "witnessTokenFile",
        "witnessCertificate",
        "peerAdmin",
        "peerAdminCertificate",
        "group",
        "heartbeatInterval",
        "peerLostAfter",
        "selfFenceAfter",
        "lease",
        "fence",
        "monitors",
        "monitorFailures",
        "monitorInterval");
    boolean automatic = false;
    if (node.has("automatic")) {
      if (!node.get("automatic").isBoolean()) {
        problems.add(
            "failover.automatic must be true or false (automatic failover is off unless it says true)");
      } else {
        automatic = node.get("automatic").booleanValue();
      }
    }
    EtcdWitnessSettings etcdWitness = null;
    Target witnessTarget = null;
    JsonNode witnessNode = node.get("witness");
    if (witnessNode != null && witnessNode.isObject()) {
      etcdWitness = new EtcdWitnessSection(problems).parse(witnessNode);
      for (String k : List.of("witnessTokenFile", "witnessCertificate")) {
        if (node.has(k)) {
          problems.add(
              "failover."
                  + k
                  + " is for the built-in witness (`kagami witness`); failover.witness names an etcd cluster");
        }
      }
    } else if (witnessNode != null && !witnessNode.isNull() && !witnessNode.isValueNode()) {
      problems.add(
          "failover.witness must be the built-in witness's host:port or a mapping {etcd: [http://host:port, ...], prefix: /kagami}");
    } else {
      witnessTarget = target(node, "witness", node.has("witnessCertificate"));
    }
    Target peerTarget = target(node, "peerAdmin", node.has("peerAdminCertificate"));
    HostPort witness = witnessTarget == null ? null : witnessTarget.address();
    HostPort peerAdmin = peerTarget == null ? null : peerTarget.address();
    Path witnessCertificate = null;
    if (witnessTarget != null && witnessTarget.tls()) {
      witnessCertificate = certificate(node, "witnessCertificate", null);
      if (witnessCertificate == null) {
        problems.add(
            "failover.witness "
                + witness
                + " speaks TLS (it is not a loopback address): failover.witnessCertificate must name the certificate it presents (the witness's --tls-dir/witness.crt, or the CA that signed its --certificate)");
      }
    }
    Path peerAdminCertificate = null;
    if (peerTarget != null && peerTarget.tls()) {
      peerAdminCertificate = certificate(node, "peerAdminCertificate", wanPeerCertificate);
    }
    if (automatic && witness == null && !node.has("witness")) {
      problems.add(
          "failover.witness is required with automatic: true: the address of `kagami witness`, host:port, at a third location, or an etcd cluster {etcd: [http://host:port, ...]}");
    }
    if (automatic && peerAdmin == null && !node.has("peerAdmin")) {
      problems.add(
          "failover.peerAdmin is required with automatic: true: the peer's admin address (host:port), the heartbeat path besides the WAN link");
    }
    Path witnessToken = null;
    String witnessTokenText = text(node, "witnessTokenFile");
    if (witnessTokenText != null && etcdWitness == null) {
      witnessToken = base.resolve(witnessTokenText).normalize();
      if (witness == null) {
        problems.add(
            "failover.witnessTokenFile is set but failover.witness is not: the token is for the witness");
      } else if (!Files.isRegularFile(witnessToken) || !Files.isReadable(witnessToken)) {
        problems.add(
            "failover.witnessTokenFile "
                + witnessToken
                + " does not exist or is not readable: copy the file `kagami witness --token-file` created");
      }
    }
    String group = text(node, "group");
    if (group == null) {
      group =
          siteId == null || peerSiteId == null
              ? "pair"
              : FailoverSettings.defaultGroup(siteId, peerSiteId);
    } else if (group.isBlank()) {
      problems.add("failover.group must not be empty");
    }
    Duration interval = duration(node, "heartbeatInterval");
    Duration lostAfter = duration(node, "peerLostAfter");
    if (lostAfter == null && !node.has("peerLostAfter")) {
      lostAfter = FailoverSettings.DEFAULT_PEER_LOST_AFTER;
    }
    Duration fenceAfter = duration(node, "selfFenceAfter");
    Duration lease = duration(node, "lease");
    Duration monitorInterval = duration(node, "monitorInterval");
    FenceCommand fence = fence(node.get("fence"));
    List<MonitorConfig> monitors = monitors(node.get("monitors"));
    int monitorFailures = FailoverConfig.DEFAULT_MONITOR_FAILURES;
    if (node.has("monitorFailures")) {
      JsonNode n = node.get("monitorFailures");
      if (!n.canConvertToInt() || !n.isIntegralNumber()) {
        problems.add(
            "failover.monitorFailures must be a whole number (consecutive failures that request failover; default 3)");
      } else {
        monitorFailures = n.intValue();
      }
    }
    if (problems.size() > before) {
      return null;
    }
    List<String> paths =
        peerAdmin == null
            ? List.of(FailoverSettings.PATH_WAN)
            : List.of(FailoverSettings.PATH_WAN, FailoverSettings.PATH_ADMIN);
    try {
      FailoverConfig policy =
          new FailoverConfig(
              automatic,
              paths,
              interval,
              lostAfter,
              fenceAfter,
              lease,
              fence,
              monitors,
              monitorFailures);
      return new FailoverSettings(
          policy,
          witness,
          group,
          peerAdmin,
          monitorInterval == null ? FailoverSettings.DEFAULT_MONITOR_INTERVAL : monitorInterval,
          witnessToken,
          witnessCertificate,
          peerAdminCertificate,
          etcdWitness);
    } catch (IllegalArgumentException e) {
      problems.add(e.getMessage());
      return null;
    }
  }

  private FenceCommand fence(JsonNode f) {
    if (f == null || f.isNull()) {
      return null;
    }
    if (!f.isObject()) {
      problems.add(
          "failover.fence must be a mapping with command (a list: program and arguments), options and timeout");
      return null;
    }
    known(f, "failover.fence.", "command", "options", "timeout");
    List<String> argv = new ArrayList<>();
    JsonNode cmd = f.get("command");
    if (cmd != null && cmd.isTextual()) {
      argv.add(cmd.asText());
    } else if (cmd != null && cmd.isArray()) {
      for (JsonNode a : cmd) {
        if (!a.isValueNode()) {
          problems.add(
              "failover.fence.command must list the program and its arguments as plain values");
          return null;
        }
        argv.add(a.asText());
      }
    }
    if (argv.isEmpty()) {
      problems.add(
          "failover.fence.command is required: the fence agent and its arguments, e.g. [/usr/sbin/fence_ipmilan]");
      return null;
    }
    Map<String, String> options = new LinkedHashMap<>();
    JsonNode o = f.get("options");
    if (o != null && !o.isNull()) {
      if (!o.isObject()) {
        problems.add(
            "failover.fence.options must be a mapping of key: value (passed to the agent as key=value lines on stdin)");
        return null;
      }
      for (Map.Entry<String, JsonNode> e : o.properties()) {
        if (!e.getValue().isValueNode()) {
          problems.add("failover.fence.options." + e.getKey() + " must be a single value");
          return null;
        }
        options.put(e.getKey(), e.getValue().asText());
      }
    }
    Duration timeout = duration(f, "timeout", "failover.fence.timeout");
    try {
      return new FenceCommand(argv, options, timeout);
    } catch (IllegalArgumentException e) {
      problems.add(e.getMessage());
      return null;
    }
  }

  private List<MonitorConfig> monitors(JsonNode list) {
    List<MonitorConfig> out = new ArrayList<>();
    if (list == null || list.isNull()) {
      return out;
    }
    if (!list.isArray()) {
      problems.add(
          "failover.monitors must be a list, e.g. [{name: db, type: postgres, host: 127.0.0.1, port: 5432}]");
      return out;
    }
    for (int i = 0; i < list.size(); i++) {
      JsonNode m = list.get(i);
      String at = "failover.monitors[" + i + "]";
      if (!m.isObject()) {
        problems.add(at + " must be a mapping with name and type (tcp, http or postgres)");
        continue;
      }
      known(m, at + ".", "name", "type", "host", "port", "url", "timeout");
      String name = text(m, "name");
      String type = text(m, "type");
      if (name == null || type == null) {
        problems.add(at + ": name and type (tcp, http or postgres) are required");
        continue;
      }
      Duration timeout = duration(m, "timeout", at + ".timeout");
      try {
        switch (type.toLowerCase(Locale.ROOT)) {
          case "tcp" ->
              out.add(
                  new MonitorConfig.Tcp(name, text(m, "host"), m.path("port").asInt(0), timeout));
          case "postgres", "postgresql" ->
              out.add(
                  new MonitorConfig.Postgres(
                      name, text(m, "host"), m.path("port").asInt(0), timeout));
          case "http" -> {
            String url = text(m, "url");
            if (url == null) {
              problems.add("monitor \"" + name + "\": url is required for type http");
              continue;
            }
            // URI.create first: a malformed URL is reported with the parser's precise reason.
            out.add(new MonitorConfig.Http(name, URI.create(url).toString(), timeout));
          }
          default ->
              problems.add(
                  "monitor \""
                      + name
                      + "\": type "
                      + type
                      + " is not allowed (tcp, http or postgres)");
        }
      } catch (IllegalArgumentException e) {
        problems.add(
            e.getMessage().startsWith("monitor")
                ? e.getMessage()
                : "monitor \"" + name + "\": " + e.getMessage());
      }
    }
    return out;
  }

  /** An HTTP(S) address and whether it speaks TLS. */
  private record Target(HostPort address, boolean tls) {}

  /**
   * {@code key}'s address, written {@code host:port}, {@code https://host:port} or {@code
   * http://host:port}. TLS unless written {@code http://} or a loopback address without a
   * certificate named for it ({@code hasCertificate}); {@code http://} is refused off loopback.
   */
  private Target target(JsonNode node, String key, boolean hasCertificate) {
    String t = text(node, key);
    if (t == null) {
      return null;
    }
    String lower = t.strip().toLowerCase(Locale.ROOT);
    boolean https = lower.startsWith("https://");
    boolean http = lower.startsWith("http://");
    String bare = t.strip().substring(https ? 8 : http ? 7 : 0);
    if (bare.endsWith("/")) {
      bare = bare.substring(0, bare.length() - 1);
    }
    HostPort a;
    try {
      a = HostPort.parse(bare);
    } catch (IllegalArgumentException e) {
      problems.add("failover." + key + ": " + e.getMessage());
      return null;
    }
    if (http && !a.isLoopback()) {
      problems.add(
          "failover."
              + key
              + " "
              + t
              + ": plain HTTP is allowed only to a loopback address; off loopback the port speaks TLS: write https://"
              + a
              + " or "
              + a);
      return null;
    }
    return new Target(a, https || (!http && (hasCertificate || !a.isLoopback())));
  }

  /** {@code key}'s PEM file (relative to the configuration), else {@code dflt}. */
  private Path certificate(JsonNode node, String key, Path dflt) {
    String t = text(node, key);
    if (t == null) {
      return dflt;
    }
    Path p = base.resolve(t).normalize();
    if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
      problems.add("failover." + key + " " + p + " does not exist or is not readable");
    }
    return p;
  }

  private Duration duration(JsonNode node, String key) {
    return duration(node, key, "failover." + key);
  }

  private Duration duration(JsonNode node, String key, String qualified) {
    String t = text(node, key);
    if (t == null) {
      return null;
    }
    try {
      Duration d = Durations.parse(t);
      if (d.isZero()) {
        problems.add(qualified + " must be more than 0");
        return null;
      }
      return d;
    } catch (IllegalArgumentException e) {
      problems.add(qualified + ": " + e.getMessage());
      return null;
    }
  }

  static String text(JsonNode node, String key) {
    JsonNode n = node.get(key);
    return n == null || n.isNull() || !n.isValueNode() ? null : n.asText();
  }

  private void known(JsonNode node, String prefix, String... keys) {
    known(problems, node, prefix, keys);
  }

  /** Adds a problem for every key of {@code node} not in {@code keys}, with the nearest one. */
  static void known(List<String> problems, JsonNode node, String prefix, String... keys) {
    Set<String> allowed = Set.of(keys);
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!allowed.contains(k)) {
        String near = ConfigReader.nearest(k, keys);
        problems.add(
            "unknown key "
                + prefix
                + k
                + (near == null ? "" : "; did you mean " + prefix + near + "?")
                + " (allowed here: "
                + String.join(", ", keys)
                + ")");
      }
    }
  }
}
