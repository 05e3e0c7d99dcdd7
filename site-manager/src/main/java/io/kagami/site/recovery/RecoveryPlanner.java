package io.kagami.site.recovery;

import io.kagami.site.config.Durations;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Checks recovery profiles against the DR host and the site's volumes and derives the boot order,
 * without touching anything: a pure function of the loaded profiles (with their problems), a {@link
 * DrHost} and the site's {@link ReplicaVolume}s. What it refuses, each problem named with the
 * server and the key:
 *
 * <ul>
 *   <li>fit: a server's memory or vCPUs beyond the DR host; all servers' memory together beyond it,
 *       when each fits alone (a full recovery starts them all; memory is not overcommitted, the
 *       host runs Kagami too). vCPUs together beyond the host's CPUs are only a warning (they share
 *       them);
 *   <li>order: dependencies on unknown servers, on a later priority group, and cycles ({@link
 *       BootOrder});
 *   <li>volumes: a volume this site does not have, one given to two servers, one that is not
 *       crash-consistent now (first copy or resync under way); on an N:1 standby, a server whose
 *       volumes come from two primary sites (a real recovery promotes whole peers: the server's
 *       disks would be of two different sites and points);
 *   <li>devices: QEMU not installed, OVMF missing for {@code uefi}, IDE on a machine without it,
 *       more disks than the bus takes.
 * </ul>
 *
 * <p>And warns, before any boot, when a server on {@code diskBus: virtio} would not find its root:
 * its boot disk (the replica of its first volume, read without changing it, {@link Initramfs})
 * names an initramfs without the virtio block driver, and its kernel has none built in; a softer
 * note when the disk's boot files cannot be read (another boot loader, a compression Kagami does
 * not read).
 */
public final class RecoveryPlanner {
  private RecoveryPlanner() {}

  public static RecoveryPlan plan(
      RecoveryProfilesLoader.Result loaded, DrHost host, List<ReplicaVolume> volumes) {
    return plan(loaded, host, volumes, v -> null);
  }

  /**
   * As {@link #plan(RecoveryProfilesLoader.Result, DrHost, List)}, also reading each virtio
   * server's boot disk: {@code replicaFile} gives a volume's replica file (null: none to read).
   */
  public static RecoveryPlan plan(
      RecoveryProfilesLoader.Result loaded,
      DrHost host,
      List<ReplicaVolume> volumes,
      Function<String, Path> replicaFile) {
    List<PlanProblem> problems = new ArrayList<>(loaded.problems());
    List<String> warnings = new ArrayList<>();
    RecoveryPlan.Host hostView =
        new RecoveryPlan.Host(
            host.cpus(),
            host.memoryBytes(),
            DrHost.gib(host.memoryBytes()),
            host.kvm(),
            host.qemu() == null ? null : host.qemu().toString(),
            host.ovmfCode() == null ? null : host.ovmfCode().toString());
    if (host.qemu() == null) {
      problems.add(
          PlanProblem.general(
              null,
              "DR host: "
                  + DrHost.QEMU
                  + " is not installed (not on PATH): no server could start (Debian package qemu-system-x86)"));
    }
    if (!host.kvm()) {
      warnings.add(
          "DR host: /dev/kvm is not usable: servers would run emulated (TCG), many times slower; UEFI guests especially");
    }
    RecoveryProfiles profiles = loaded.profiles();
    if (profiles == null) {
      return new RecoveryPlan(
          false,
          loaded.source(),
          hostView,
          List.of(),
          List.of(),
          new RecoveryPlan.Totals(0, 0, DrHost.gib(0)),
          problems,
          warnings);
    }
    Map<String, ReplicaVolume> siteVolumes = new HashMap<>();
    for (ReplicaVolume v : volumes) {
      siteVolumes.put(v.name(), v);
    }
    Map<String, String> owner = new HashMap<>();
    List<RecoveryPlan.Server> servers = new ArrayList<>();
    int vcpus = 0;
    long memory = 0;
    for (ServerProfile s : profiles.servers()) {
      fit(s, host, problems);
      devices(s, host, problems);
      List<RecoveryPlan.Disk> disks = disks(s, siteVolumes, owner, problems);
      bootDriver(s, siteVolumes, replicaFile, warnings);
      vcpus += s.vcpus();
      memory += s.memory().bytes();
      servers.add(view(s, disks, profiles));
    }
    boolean eachFits =
        profiles.servers().stream().allMatch(s -> s.memory().bytes() <= host.memoryBytes());
    if (profiles.servers().size() > 1 && eachFits && memory > host.memoryBytes()) {
      problems.add(
          PlanProblem.general(
              "memory",
              "servers: memory "
                  + DrHost.gib(memory)
                  + " in total exceeds the DR host's "
                  + DrHost.gib(host.memoryBytes())
                  + " (kagami recover --all starts every server: lower some servers' memory or recover on a larger host)"));
    }
    if (vcpus > host.cpus()) {
      warnings.add(
          "servers: "
              + vcpus
              + " vCPUs in total share the DR host's "
              + host.cpus()
              + " CPUs (overcommitted: allowed, but they run slower)");
    }
    List<RecoveryPlan.Group> order = BootOrder.of(profiles.servers(), problems);
    return new RecoveryPlan(
        problems.isEmpty(),
        profiles.source(),
        hostView,
        order,
        servers,
        new RecoveryPlan.Totals(vcpus, memory, DrHost.gib(memory)),
        problems,
        warnings);
  }

  private static void fit(ServerProfile s, DrHost host, List<PlanProblem> problems) {
    if (s.memory().bytes() > host.memoryBytes()) {
      problems.add(
          PlanProblem.of(
              s.name(),
              "memory",
              "memory " + s.memory() + " exceeds the DR host's " + DrHost.gib(host.memoryBytes())));
    }
    if (s.vcpus() > host.cpus()) {
      problems.add(
          PlanProblem.of(
              s.name(),
              "vcpus",
              "vcpus " + s.vcpus() + " exceeds the DR host's " + host.cpus() + " CPUs"));
    }
  }

  private static void devices(ServerProfile s, DrHost host, List<PlanProblem> problems) {
    if (s.firmware() == Firmware.UEFI && (host.ovmfCode() == null || host.ovmfVars() == null)) {
      problems.add(
          PlanProblem.of(
              s.name(),
              "firmware",
              "firmware uefi needs OVMF on the DR host, and none is installed (looked for "
                  + DrHost.OVMF.stream().map(p -> p.get(0)).collect(Collectors.joining(", "))
                  + "; Debian package ovmf)"));
    }
    if (s.diskBus() == DiskBus.IDE && !s.i440fx()) {
      problems.add(
          PlanProblem.of(
              s.name(),
              "diskBus",
              "diskBus ide needs machine pc (the i440fx machine): "
                  + s.machine()
                  + " has no IDE controller; set machine: pc, or diskBus: sata"));
    }
    if (s.volumes().size() > s.diskBus().maxDisks()) {
      problems.add(
          PlanProblem.of(
              s.name(),
              "volumes",
              "volumes: "
                  + s.volumes().size()
                  + " disks, but diskBus "
                  + s.diskBus().label()
                  + " takes at most "
                  + s.diskBus().maxDisks()));
    }
  }

  /**
   * Warns when {@code s} boots on virtio but its boot disk's initramfs lacks virtio_blk (it would
   * stop at "root not found"), or notes that it could not tell.
   */
  private static void bootDriver(
      ServerProfile s,
      Map<String, ReplicaVolume> site,
      Function<String, Path> replicaFile,
      List<String> warnings) {
    if (s.diskBus() != DiskBus.VIRTIO || s.volumes().isEmpty()) {
      return;
    }
    String boot = s.volumes().getFirst();
    Path file = site.containsKey(boot) ? replicaFile.apply(boot) : null;
    if (file == null || !Files.isRegularFile(file)) {
      return;
    }
    Initramfs.VirtioBlk v = Initramfs.virtioBlk(file);
    switch (v.verdict()) {
      case PRESENT -> {}
      case ABSENT ->
          warnings.add(
              "server \""
                  + s.name()
                  + "\": diskBus virtio, but its boot disk (volume "
                  + boot
                  + ") has no virtio_blk: neither its initramfs ("
                  + String.join(", ", v.files())
                  + ") nor its kernel has the driver, so it would not find its root disk; use diskBus: sata");
      case UNKNOWN ->
          warnings.add(
              "server \""
                  + s.name()
                  + "\": diskBus virtio; could not tell whether its boot disk (volume "
                  + boot
                  + ") has the virtio_blk driver ("
                  + v.reason()
                  + "); if it does not find its root disk on virtio, use diskBus: sata");
    }
  }

  private static List<RecoveryPlan.Disk> disks(
      ServerProfile s,
      Map<String, ReplicaVolume> site,
      Map<String, String> owner,
      List<PlanProblem> problems) {
    List<RecoveryPlan.Disk> disks = new ArrayList<>();
    ReplicaVolume first = null;
    for (int i = 0; i < s.volumes().size(); i++) {
      String name = s.volumes().get(i);
      String key = "volumes[" + i + "]";
      ReplicaVolume v = site.get(name);
      if (v == null) {
        problems.add(
            PlanProblem.of(
                s.name(),
                key,
                key
                    + " \""
                    + name
                    + "\" is not a volume of this site (its volumes: "
                    + site.keySet().stream().sorted().collect(Collectors.joining(", "))
                    + ")"));
        continue;
      }
      if (first == null) {
        first = v;
      } else if (first.peer() != null && v.peer() != null && !first.peer().equals(v.peer())) {
        problems.add(
            PlanProblem.of(
                s.name(),
                key,
                key
                    + " \""
                    + name
                    + "\" is replicated from peer "
                    + v.peer()
                    + ", but \""
                    + first.name()
                    + "\" from peer "
                    + first.peer()
                    + ": a server's disks come from one primary site (a recovery promotes each"
                    + " peer's volumes at once); give each server the volumes of one peer"));
      }
      String other = owner.putIfAbsent(name, s.name());
      if (other != null) {
        problems.add(
            PlanProblem.of(
                s.name(),
                key,
                key
                    + " \""
                    + name
                    + "\" is already server \""
                    + other
                    + "\"'s disk: two servers must not boot from one volume"));
      }
      if (!v.consistent()) {
        problems.add(
            PlanProblem.of(
                s.name(),
                key,
                key
                    + " \""
                    + name
                    + "\" is "
                    + v.state()
                    + ", not crash-consistent: a server started now would boot from a torn disk; wait until kagami status shows it replicating"));
      }
      disks.add(new RecoveryPlan.Disk(name, s.diskBus().device(i), v.state()));
    }
    return disks;
  }

  private static RecoveryPlan.Server view(
      ServerProfile s, List<RecoveryPlan.Disk> disks, RecoveryProfiles profiles) {
    List<RecoveryPlan.Nic> nics = new ArrayList<>();
    for (ServerProfile.Nic n : s.nics()) {
      nics.add(
          new RecoveryPlan.Nic(
              n.mac(), n.model(), profiles.bridge(n.network()), profiles.bridge(n.drillNetwork())));
    }
    return new RecoveryPlan.Server(
        s.name(),
        s.priority(),
        s.dependsOn(),
        s.vcpus(),
        s.memory().bytes(),
        s.memory().toString(),
        s.machine(),
        s.firmware(),
        s.diskBus(),
        disks,
        nics,
        s.healthCheck().describe(),
        Durations.format(s.timeouts().healthy()));
  }
}
