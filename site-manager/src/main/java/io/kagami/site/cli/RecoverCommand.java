package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami recover}: the protected servers started on the DR site from their replicas.
 *
 * <ul>
 *   <li>{@code kagami recover --server NAME | --all [--at TIME | --seq N] [--drill] [--libvirt]
 *       [--ttl D] [--no-wait]}: {@code POST /recover}; waits for the run's report and prints it as
 *       a table (exit 1 when a server did not become healthy);
 *   <li>{@code kagami recover stop}: {@code POST /recover/stop}, removes every VM and drill clone;
 *   <li>{@code kagami recover status}: {@code GET /recover/status}, the run and when each server
 *       was last tested;
 *   <li>{@code kagami recover plan}: checks the recovery profiles of the site's protected servers
 *       (its recovery.yaml) against the DR host and the site's volumes, through {@code GET
 *       /recover/plan}, and prints the boot order and each server's resources, or every problem
 *       with the server and key it names (exit 3, refused: nothing was changed).
 * </ul>
 */
@Command(
    name = "recover",
    description = {
      "Recover the protected servers on this DR site from their replicated volumes, as VMs, in boot order: by priority group and dependsOn, each once the servers before it passed their health checks.",
      "A real recovery promotes the volumes at the point; --drill boots them on copy-on-write clones of the replicas on the isolated drill network while replication goes on, until kagami recover stop or the drill's time-to-live.",
      "Prints the run's report: per server the point recovered, RPO, RTO and its parts, attempts, and the boot order observed."
    },
    subcommands = {
      RecoverCommand.Plan.class,
      RecoverCommand.Stop.class,
      RecoverCommand.Status.class
    })
final class RecoverCommand extends SiteVerb {
  @Option(
      names = "--server",
      paramLabel = "NAME",
      description = "A server of recovery.yaml to recover (repeat for several).")
  List<String> servers = new ArrayList<>();

  @Option(names = "--all", description = "Recover every server of recovery.yaml.")
  boolean all;

  @Option(
      names = "--seq",
      paramLabel = "N",
      description =
          "Recover at this sequence number of the first server's boot volume (the other volumes at that write's time).")
  Long seq;

  @Option(
      names = "--at",
      paramLabel = "TIME",
      description =
          "Recover at this time: 2026-01-01T10:00:00Z, or an age such as 5m (within the retained history).")
  String at;

  @Option(
      names = "--drill",
      description =
          "A drill: clones of the replicas, drill networks only; replication and the replicas are untouched.")
  boolean drill;

  @Option(
      names = "--libvirt",
      description =
          "Define and start each server as a libvirt domain (virsh) instead of a QEMU process.")
  boolean libvirt;

  @Option(
      names = "--ttl",
      paramLabel = "DURATION",
      description = "A drill's time-to-live, after which it is stopped by itself (default 4h).")
  String ttl;

  @Option(
      names = "--no-wait",
      description = "Return once the run started instead of waiting for its report.")
  boolean noWait;

  @Override
  int run(AdminClient site) {
    if (all == !servers.isEmpty()) {
      throw CliError.usage(
          "name the servers to recover: --server NAME (repeatable) or --all",
          "kagami recover plan shows the servers; kagami recover --help explains the options");
    }
    if (seq != null && at != null) {
      throw CliError.usage("give --seq or --at, not both", "kagami recover --help explains both");
    }
    Map<String, Object> body = new LinkedHashMap<>();
    if (all) {
      body.put("all", true);
    } else {
      body.put("servers", servers);
    }
    if (seq != null) {
      body.put("seq", seq);
    }
    if (at != null) {
      body.put("at", at);
    }
    body.put("drill", drill);
    body.put("libvirt", libvirt);
    if (ttl != null) {
      body.put("ttl", ttl);
    }
    body.put("wait", !noWait);
    JsonNode first = site.send("POST", "/recover", body, Duration.ofMinutes(2));
    if (noWait) {
      return print(
          first,
          () ->
              System.out.println(
                  "recovery run "
                      + first.path("id").asText()
                      + " started; follow it with: kagami recover status"));
    }
    // Each answer waits up to 40 s on the site; ask again until the report is there (bounded).
    JsonNode r = first;
    for (int i = 0; i < 360 && !r.has("result"); i++) {
      r =
          site.send(
              "POST", "/recover/wait", Map.of("id", r.path("id").asText()), Duration.ofMinutes(2));
    }
    if (!r.has("result")) {
      throw CliError.failed(
          "recovery run " + r.path("id").asText() + " did not end within 4 h",
          "kagami recover status shows each server; kagami recover stop ends it");
    }
    JsonNode report = r;
    print(report, () -> report(report));
    return report.path("result").asText().equals("ok") ? ExitCode.OK : ExitCode.FAILED;
  }

  /** The report as a table. */
  static void report(JsonNode r) {
    System.out.printf(
        "%s %s: %s (point: %s; requested %s)%n",
        r.path("kind").asText(),
        r.path("id").asText(),
        r.path("result").asText(),
        r.path("pointAsked").asText(),
        r.path("requestedAt").asText());
    List<String> order = new ArrayList<>();
    r.path("bootOrder").forEach(n -> order.add(n.asText()));
    System.out.println("boot order observed: " + String.join(" -> ", order));
    String row = "  %-12s %-8s %3s %10s %-24s %9s %9s  %s%n";
    System.out.printf(
        row, "SERVER", "RESULT", "TRY", "SEQ", "POINT TIME", "RPO", "RTO", "RTO PARTS / REASON");
    for (JsonNode s : r.path("servers")) {
      JsonNode p = s.path("point");
      JsonNode b = s.path("rto");
      String parts =
          s.hasNonNull("rtoMillis")
              ? String.format(
                  "prepare %s, export %s, vm start %s, boot %s, health %s",
                  ms(b.path("prepareMillis")),
                  ms(b.path("exportMillis")),
                  ms(b.path("vmStartMillis")),
                  ms(b.path("bootMillis")),
                  ms(b.path("healthMillis")))
              : s.path("reason").asText("");
      System.out.printf(
          row,
          s.path("name").asText(),
          s.path("result").asText(),
          s.path("attempts").asInt(),
          p.isMissingNode() || p.isNull() ? "-" : p.path("seq").asText(),
          p.isMissingNode() || p.isNull() ? "-" : p.path("time").asText("-"),
          ms(s.path("rpoMillis")),
          ms(s.path("rtoMillis")),
          parts);
    }
    for (JsonNode n : r.path("notes")) {
      System.err.println("kagami: note: " + n.asText());
    }
    if (r.path("kind").asText().equals("drill")) {
      System.err.println(
          "kagami: the drill's VMs keep running on the clones; end it with: kagami recover stop");
    }
  }

  private static String ms(JsonNode n) {
    return n.isNumber() ? n.asLong() + " ms" : "-";
  }

  @Command(
      name = "stop",
      description = {
        "Stop the recovery or drill: every VM it started and every drill clone it made are removed (a real recovery's promotion stays)."
      })
  static final class Stop extends SiteVerb {
    @Override
    int run(AdminClient site) {
      JsonNode r = site.send("POST", "/recover/stop", Map.of(), Duration.ofMinutes(5));
      return print(
          r,
          () ->
              System.out.printf(
                  "%s %s stopped: VMs %s, drill clones %s; report %s%n",
                  r.path("kind").asText(),
                  r.path("id").asText(),
                  r.path("vmsStopped"),
                  r.path("drillsStopped"),
                  r.path("report").asText()));
    }
  }

  @Command(
      name = "status",
      description = {
        "Show the recovery or drill under way (each server's state) and when each server was last proven bootable by a drill."
      })
  static final class Status extends SiteVerb {
    @Override
    int run(AdminClient site) {
      JsonNode r = site.get("/recover/status");
      return print(
          r,
          () -> {
            JsonNode run = r.path("running");
            if (run.isNull() || run.isMissingNode()) {
              System.out.println("no recovery or drill is running");
            } else {
              System.out.printf(
                  "%s %s: %s since %s%s%n",
                  run.path("kind").asText(),
                  run.path("id").asText(),
                  run.path("phase").asText(),
                  run.path("requestedAt").asText(),
                  run.hasNonNull("expiresAt")
                      ? " (stops by itself at " + run.path("expiresAt").asText() + ")"
                      : "");
              for (JsonNode s : run.path("servers")) {
                System.out.printf(
                    "  %-12s %-10s attempts %d%s%n",
                    s.path("name").asText(),
                    s.path("state").asText(),
                    s.path("attempts").asInt(),
                    s.hasNonNull("reason") ? ": " + s.path("reason").asText() : "");
              }
            }
            System.out.println("last tested (a drill booted it and its health check passed):");
            if (r.path("lastTested").isEmpty()) {
              System.out.println("  never");
            }
            r.path("lastTested")
                .properties()
                .forEach(
                    e ->
                        System.out.printf(
                            "  %-12s %s at seq %s (written %s), drill %s%n",
                            e.getKey(),
                            e.getValue().path("testedAt").asText(),
                            e.getValue().path("seq").asText(),
                            e.getValue().path("pointTime").asText("-"),
                            e.getValue().path("runId").asText()));
          });
    }
  }

  @Command(
      name = "plan",
      description = {
        "Check the recovery profiles against this DR host and the site's volumes, changing nothing: the servers fit the host (CPUs, memory), no dependency cycles, every volume exists and is consistent, the disk buses and firmware are available.",
        "Prints the boot order (priority groups, then dependsOn) and each server's resources; or every problem, each naming the server and the key in recovery.yaml, and exits 3."
      })
  static final class Plan extends SiteVerb {
    @Override
    int run(AdminClient site) {
      JsonNode plan = site.get("/recover/plan");
      if (!plan.path("ok").asBoolean(false)) {
        List<String> problems = new ArrayList<>();
        for (JsonNode p : plan.path("problems")) {
          problems.add(p.path("message").asText());
        }
        String message =
            "the recovery plan is refused, "
                + (problems.size() == 1 ? "1 problem" : problems.size() + " problems")
                + ":\n  - "
                + String.join("\n  - ", problems);
        String next =
            "nothing was changed; fix "
                + (plan.hasNonNull("source") ? plan.path("source").asText() : "recovery.yaml")
                + " (or the DR host) and run kagami recover plan again";
        if (!json) {
          throw CliError.refused(message, next);
        }
        Map<String, Object> answer =
            new LinkedHashMap<>(Main.errorJson(ExitCode.REFUSED, message, next));
        answer.put("plan", plan);
        printJson(answer);
        return ExitCode.REFUSED;
      }
      return print(plan, () -> text(plan));
    }

    private static void text(JsonNode plan) {
      JsonNode h = plan.path("host");
      System.out.printf(
          "recovery plan from %s: ready (nothing was changed)%n", plan.path("source").asText());
      System.out.printf(
          "DR host: %d CPUs, %s, KVM %s, qemu %s, OVMF %s%n",
          h.path("cpus").asInt(),
          h.path("memory").asText(),
          h.path("kvm").asBoolean() ? "yes" : "no",
          h.hasNonNull("qemu") ? h.path("qemu").asText() : "none",
          h.hasNonNull("ovmf") ? h.path("ovmf").asText() : "none");
      System.out.println();
      System.out.println("boot order (each group once the previous one is healthy):");
      for (JsonNode g : plan.path("bootOrder")) {
        List<String> waves = new ArrayList<>();
        for (JsonNode w : g.path("waves")) {
          List<String> names = new ArrayList<>();
          w.forEach(n -> names.add(n.asText()));
          waves.add(String.join(" + ", names));
        }
        System.out.printf(
            "  group %d: %s%n", g.path("priority").asInt(), String.join(", then ", waves));
      }
      System.out.println();
      String row = "  %-16s %5s %5s %8s %-8s %-8s %-6s %-5s %s%n";
      System.out.printf(
          row, "SERVER", "GROUP", "VCPUS", "MEMORY", "MACHINE", "FIRMWARE", "BUS", "NICS", "DISKS");
      for (JsonNode s : plan.path("servers")) {
        List<String> disks = new ArrayList<>();
        for (JsonNode d : s.path("disks")) {
          disks.add(d.path("volume").asText() + "=" + d.path("device").asText());
        }
        System.out.printf(
            row,
            s.path("name").asText(),
            s.path("priority").asInt(),
            s.path("vcpus").asInt(),
            s.path("memory").asText(),
            s.path("machine").asText(),
            s.path("firmware").asText(),
            s.path("diskBus").asText(),
            s.path("nics").size(),
            String.join(", ", disks));
        System.out.printf(
            "  %-16s health %s within %s%s%n",
            "",
            s.path("healthCheck").asText(),
            s.path("healthyTimeout").asText(),
            s.path("dependsOn").isEmpty()
                ? ""
                : "; after " + String.join(", ", strings(s.path("dependsOn"))));
      }
      JsonNode t = plan.path("totals");
      System.out.printf(
          "%ntogether: %d vCPUs, %s (the DR host: %d CPUs, %s)%n",
          t.path("vcpus").asInt(),
          t.path("memory").asText(),
          h.path("cpus").asInt(),
          h.path("memory").asText());
      for (JsonNode w : plan.path("warnings")) {
        System.err.println("kagami: warning: " + w.asText());
      }
    }

    private static List<String> strings(JsonNode array) {
      List<String> out = new ArrayList<>();
      array.forEach(n -> out.add(n.asText()));
      return out;
    }
  }
}
