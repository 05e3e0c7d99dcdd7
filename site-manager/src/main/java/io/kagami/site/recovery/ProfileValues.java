package io.kagami.site.recovery;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.site.config.DataSize;
import io.kagami.site.config.Durations;
import io.kagami.site.config.HostPort;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Typed reads of recovery.yaml's values for {@link RecoveryProfilesLoader}: the settings a server
 * or {@code defaults:} may set (vCPUs, memory, machine, firmware, disk bus, NIC model, priority,
 * health check, boot failure lines, timeouts), each falling back to the level above when it is
 * missing or wrong, and the list of problems every read adds to, each naming the server and the
 * key. Not thread-safe: one per load.
 */
final class ProfileValues {
  private static final Pattern MACHINE =
      Pattern.compile("q35|pc|pc-q35-\\d+\\.\\d+|pc-i440fx-\\d+\\.\\d+");
  static final Set<String> NIC_MODELS = Set.of("virtio", "e1000", "rtl8139");

  /**
   * Console lines by which a Linux boot says it failed for good: the kernel's panic, and the
   * initramfs that found no root disk (its usual cause after a physical-to-virtual move: no driver
   * for the disk bus) and gives up to a shell that nobody will type into. Waiting out the health
   * timeout after one of these would only delay the dependants' verdict by minutes.
   */
  static final List<String> LINUX_BOOT_FAILURES =
      List.of("Kernel panic - not syncing", "Gave up waiting for root", "Dropping to a shell");

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
          LINUX_BOOT_FAILURES,
          new ServerProfile.Timeouts(Duration.ofMinutes(10), Duration.ofMinutes(2)));

  record Defaults(
      int vcpus,
      DataSize memory,
      String machine,
      Firmware firmware,
      DiskBus diskBus,
      String nicModel,
      int priority,
      HealthCheck healthCheck,
      List<String> bootFailure,
      ServerProfile.Timeouts timeouts) {
    Defaults {
      bootFailure = List.copyOf(bootFailure);
    }
  }

  private final List<PlanProblem> problems = new ArrayList<>();
  private final String source;

  ProfileValues(String source) {
    this.source = source;
  }

  List<PlanProblem> problems() {
    return problems;
  }

  /** The values {@code node} sets under {@code prefix}, each falling back to {@code base}. */
  Defaults values(String server, String prefix, JsonNode node, Defaults base) {
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
    List<String> bootFailure =
        node.has("bootFailure")
            ? bootFailure(server, prefix, node.get("bootFailure"), base.bootFailure())
            : base.bootFailure();
    ServerProfile.Timeouts timeouts = base.timeouts();
    if (node.has("timeouts")) {
      timeouts = timeouts(server, prefix, node.get("timeouts"), base.timeouts());
    }
    return new Defaults(
        vcpus, memory, machine, firmware, bus, nicModel, priority, health, bootFailure, timeouts);
  }

  /** A list of one-line texts; {@code []} turns the watch off. */
  private List<String> bootFailure(String server, String prefix, JsonNode n, List<String> dflt) {
    String key = prefix + "bootFailure";
    if (!n.isArray()) {
      problemAt(
          server,
          key,
          key
              + " must be a list of console texts that mean the boot failed, e.g. [\"Kernel panic\"],"
              + " or [] for none");
      return dflt;
    }
    List<String> out = new ArrayList<>();
    for (JsonNode line : n) {
      if (!line.isTextual() || line.asText().isBlank() || line.asText().contains("\n")) {
        problemAt(
            server,
            key,
            key + " " + shown(line) + " is not allowed (a non-empty text of one line)");
        return dflt;
      }
      out.add(line.asText());
    }
    return out;
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
      problemAt(server, key, key + " must be a mapping: {healthy: 10m, shutdown: 2m, attempts: 1}");
      return base;
    }
    known(n, server, key + ".", "healthy", "shutdown", "attempts");
    Duration healthy = duration(server, key + ".healthy", n.get("healthy"), base.healthy());
    Duration shutdown = duration(server, key + ".shutdown", n.get("shutdown"), base.shutdown());
    int attempts = base.attempts();
    JsonNode a = n.get("attempts");
    if (a != null && !a.isNull()) {
      if (a.canConvertToInt() && a.asInt() >= 1 && a.asInt() <= 10) {
        attempts = a.asInt();
      } else {
        problemAt(
            server,
            key + ".attempts",
            key + ".attempts \"" + a.asText() + "\" is not allowed (how many starts, 1..10)");
      }
    }
    return new ServerProfile.Timeouts(healthy, shutdown, attempts);
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

  void bad(String server, String prefix, String key, JsonNode value, String allowed) {
    problemAt(
        server,
        prefix + key,
        prefix + key + " " + shown(value) + " is not allowed (" + allowed + ")");
  }

  private static String shown(JsonNode value) {
    return value.isTextual() ? "\"" + value.asText() + "\"" : value.toString();
  }

  void known(JsonNode node, String server, String prefix, String... keys) {
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

  void problemAt(String server, String key, String text) {
    if (server == null) {
      general(key, text);
    } else {
      problems.add(PlanProblem.of(server, key, text));
    }
  }

  void problem(String server, String key, String text) {
    problems.add(PlanProblem.of(server, key, text));
  }

  void general(String key, String text) {
    problems.add(PlanProblem.general(key, source + ": " + text));
  }
}
