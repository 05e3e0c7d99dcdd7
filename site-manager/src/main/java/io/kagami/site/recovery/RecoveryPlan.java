package io.kagami.site.recovery;

import java.util.List;

/**
 * The answer of {@code kagami recover plan} and {@code GET /recover/plan}: whether a recovery could
 * run as configured ({@code ok}: no problems), the boot order, each server's resources, the DR host
 * and the totals, every problem (each naming the server and the key) and warnings that do not stop
 * a recovery (e.g. no KVM: servers run emulated, slowly). Computed, never stored.
 */
public record RecoveryPlan(
    boolean ok,
    String source,
    Host host,
    List<Group> bootOrder,
    List<Server> servers,
    Totals totals,
    List<PlanProblem> problems,
    List<String> warnings) {

  public RecoveryPlan {
    bootOrder = List.copyOf(bootOrder);
    servers = List.copyOf(servers);
    problems = List.copyOf(problems);
    warnings = List.copyOf(warnings);
  }

  /** The DR host as probed: {@code qemu}, {@code ovmf} null when not installed. */
  public record Host(
      int cpus, long memoryBytes, String memory, boolean kvm, String qemu, String ovmf) {}

  /** One priority group's waves, in order: the servers of a wave start together. */
  public record Group(int priority, List<List<String>> waves) {}

  /** What every server of the plan needs together. */
  public record Totals(int vcpus, long memoryBytes, String memory) {}

  /** One server as it would start. */
  public record Server(
      String name,
      int priority,
      List<String> dependsOn,
      int vcpus,
      long memoryBytes,
      String memory,
      String machine,
      Firmware firmware,
      DiskBus diskBus,
      List<Disk> disks,
      List<Nic> nics,
      String healthCheck,
      String healthyTimeout) {}

  /** A disk: the site's volume (its NBD export) and the guest device it appears as. */
  public record Disk(String volume, String device, String state) {}

  /** A NIC: its MAC, model, and the bridges it joins in a recovery and in a drill (null: none). */
  public record Nic(String mac, String model, String bridge, String drillBridge) {}
}
