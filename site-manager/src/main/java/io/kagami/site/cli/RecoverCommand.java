package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;

/**
 * {@code kagami recover plan [--json]}: checks the recovery profiles of the site's protected
 * servers (its recovery.yaml) against the DR host and the site's volumes, through {@code GET
 * /recover/plan}, and prints the boot order and each server's resources, or every problem with the
 * server and key it names (exit 3, refused: nothing was changed). Starting the servers ({@code
 * kagami recover --server NAME | --all}) is not built yet.
 */
@Command(
    name = "recover",
    description = {
      "Recovery of the protected servers on the DR site from their replicated volumes.",
      "Today: plan, which checks the recovery profiles (recovery.yaml beside the site's YAML) without touching anything. Starting the servers is not built yet."
    },
    subcommands = {RecoverCommand.Plan.class})
final class RecoverCommand {

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
