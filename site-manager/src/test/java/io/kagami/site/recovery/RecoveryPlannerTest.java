package io.kagami.site.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each refusal of the planner on its own, named with the server and the key, against a DR host
 * given by hand (2 CPUs, 7.7 GiB, KVM, QEMU and OVMF present unless a test takes them away).
 */
class RecoveryPlannerTest {
  static final long HOST_MEMORY = 8_074_000L * 1024; // MemTotal of a "8 GB" machine: 7.7 GiB
  static final DrHost HOST =
      new DrHost(
          2,
          HOST_MEMORY,
          true,
          Path.of("/usr/bin/qemu-system-x86_64"),
          Path.of("/usr/share/OVMF/OVMF_CODE_4M.fd"),
          Path.of("/usr/share/OVMF/OVMF_VARS_4M.fd"));
  static final List<ReplicaVolume> VOLUMES =
      List.of(
          new ReplicaVolume("db-data", "replicating", 1L << 30),
          new ReplicaVolume("db-log", "disconnected", 1L << 30),
          new ReplicaVolume("web-root", "replicating", 1L << 30),
          new ReplicaVolume("app-root", "replicating", 1L << 30),
          new ReplicaVolume("legacy-c", "replicating", 1L << 30),
          new ReplicaVolume("torn", "resyncing", 1L << 30));

  static final String GOOD =
      """
      networks:
        prod: {bridge: br-prod}
        drill: {bridge: br-drill}
      defaults:
        vcpus: 1
        memory: 1GiB
        healthCheck: {console: "login:"}
      servers:
        - name: db
          volumes: [db-data, db-log]
          vcpus: 2
          memory: 2GiB
          firmware: uefi
          priority: 1
          nics: [{network: prod, drillNetwork: drill, mac: "52:54:00:00:00:01"}]
          healthCheck: {tcp: "10.0.0.5:5432"}
        - name: app
          volumes: [app-root]
          dependsOn: [db, web]
          timeouts: {healthy: 3m}
        - name: web
          volumes: [web-root]
          dependsOn: [db]
          healthCheck: {http: "http://10.0.0.6/health"}
        - name: legacy
          volumes: [legacy-c]
          machine: pc
          diskBus: ide
          priority: 5
          nics: [{network: prod, model: e1000}]
      """;

  static RecoveryPlan plan(String yaml) {
    return plan(yaml, HOST);
  }

  static RecoveryPlan plan(String yaml, DrHost host) {
    return RecoveryPlanner.plan(RecoveryProfilesLoader.parse(yaml, "recovery.yaml"), host, VOLUMES);
  }

  /** The only problem of {@code p}, which must name {@code server} and {@code key}. */
  static PlanProblem only(RecoveryPlan p, String server, String key) {
    assertThat(p.ok()).as("plan refused").isFalse();
    assertThat(p.problems()).as("problems").hasSize(1);
    PlanProblem problem = p.problems().get(0);
    assertThat(problem.server()).as("server of %s", problem).isEqualTo(server);
    assertThat(problem.key()).as("key of %s", problem).isEqualTo(key);
    if (server != null) {
      assertThat(problem.message()).startsWith("server \"" + server + "\": ");
    }
    return problem;
  }

  @Test
  void aGoodPlanOrdersGroupsAndDependenciesAndAppliesDefaults() {
    RecoveryPlan p = plan(GOOD);
    assertThat(p.problems()).as("problems").isEmpty();
    assertThat(p.ok()).isTrue();
    assertThat(p.bootOrder())
        .containsExactly(
            new RecoveryPlan.Group(1, List.of(List.of("db"))),
            new RecoveryPlan.Group(3, List.of(List.of("web"), List.of("app"))),
            new RecoveryPlan.Group(5, List.of(List.of("legacy"))));
    RecoveryPlan.Server db = p.servers().get(0);
    assertThat(db.disks())
        .extracting(RecoveryPlan.Disk::device)
        .as("volumes in disk order")
        .containsExactly("vda", "vdb");
    assertThat(db.healthCheck()).isEqualTo("tcp 10.0.0.5:5432");
    RecoveryPlan.Server app = p.servers().get(1);
    assertThat(app.vcpus()).as("default vcpus").isEqualTo(1);
    assertThat(app.memory()).as("default memory").isEqualTo("1GiB");
    assertThat(app.healthCheck()).as("default health check").isEqualTo("console \"login:\"");
    assertThat(app.healthyTimeout()).as("per-server timeout").isEqualTo("3m");
    RecoveryPlan.Server legacy = p.servers().get(3);
    assertThat(legacy.disks().get(0).device()).isEqualTo("hda");
    assertThat(legacy.nics().get(0).drillBridge()).as("no drill network: left out").isNull();
    assertThat(legacy.nics().get(0).mac()).as("derived MAC").matches("52:54:00(:[0-9a-f]{2}){3}");
    assertThat(p.totals().memoryBytes()).isEqualTo(5L << 30);
  }

  @Test
  void onAnNToOneStandbyAServerWhoseVolumesSpanTwoPeersIsRefused() {
    List<ReplicaVolume> n1 =
        List.of(
            new ReplicaVolume("tokyo.db", "disconnected", 1L << 30, "tokyo"),
            new ReplicaVolume("tokyo.log", "disconnected", 1L << 30, "tokyo"),
            new ReplicaVolume("osaka.app", "disconnected", 1L << 30, "osaka"));
    String yaml =
        """
        defaults: {healthCheck: {console: "login:"}}
        servers:
          - {name: db, volumes: [tokyo.db, tokyo.log]}
          - {name: app, volumes: [VOLS], dependsOn: [db]}
        """;
    RecoveryPlan good =
        RecoveryPlanner.plan(
            RecoveryProfilesLoader.parse(yaml.replace("VOLS", "osaka.app"), "recovery.yaml"),
            HOST,
            n1);
    assertThat(good.problems()).as("one peer per server").isEmpty();
    RecoveryPlan mixed =
        RecoveryPlanner.plan(
            RecoveryProfilesLoader.parse(
                yaml.replace("tokyo.db, tokyo.log", "tokyo.db")
                    .replace("VOLS", "osaka.app, tokyo.log"),
                "recovery.yaml"),
            HOST,
            n1);
    PlanProblem problem = only(mixed, "app", "volumes[1]");
    assertThat(problem.message())
        .contains("\"tokyo.log\" is replicated from peer tokyo, but \"osaka.app\" from peer osaka");
  }

  @Test
  void memoryBeyondTheHostIsRefused() {
    PlanProblem problem = only(plan(GOOD.replace("memory: 2GiB", "memory: 64GiB")), "db", "memory");
    assertThat(problem.message())
        .isEqualTo("server \"db\": memory 64GiB exceeds the DR host's 7.7 GiB");
  }

  @Test
  void memoryOfAllServersTogetherBeyondTheHostIsRefused() {
    PlanProblem problem = only(plan(GOOD.replace("memory: 1GiB", "memory: 2GiB")), null, "memory");
    assertThat(problem.message())
        .startsWith("servers: memory 8.0 GiB in total exceeds the DR host's 7.7 GiB");
  }

  @Test
  void vcpusBeyondTheHostAreRefusedButOvercommitTogetherIsAWarning() {
    only(plan(GOOD.replace("vcpus: 2", "vcpus: 3")), "db", "vcpus");
    RecoveryPlan p = plan(GOOD);
    assertThat(p.warnings()).anyMatch(w -> w.contains("5 vCPUs in total share the DR host's 2"));
  }

  @Test
  void anUnknownBusIsRefused() {
    PlanProblem problem =
        only(plan(GOOD.replace("diskBus: ide", "diskBus: scsi")), "legacy", "diskBus");
    assertThat(problem.message())
        .isEqualTo(
            "server \"legacy\": diskBus \"scsi\" is not allowed (virtio, sata or ide; sata or ide for guests without virtio drivers)");
  }

  @Test
  void anUnknownDefaultIsNamedOnceUnderDefaults() {
    PlanProblem problem =
        only(
            plan(GOOD.replace("vcpus: 1\n", "vcpus: 1\n  firmware: efi\n")),
            null,
            "defaults.firmware");
    assertThat(problem.message())
        .isEqualTo("recovery.yaml: defaults.firmware \"efi\" is not allowed (bios or uefi)");
  }

  @Test
  void ideOnAMachineWithoutItIsRefused() {
    PlanProblem problem =
        only(plan(GOOD.replace("machine: pc\n", "machine: q35\n")), "legacy", "diskBus");
    assertThat(problem.message()).contains("diskBus ide needs machine pc").contains("q35");
  }

  @Test
  void uefiWithoutOvmfIsRefused() {
    DrHost noOvmf = new DrHost(2, HOST_MEMORY, true, HOST.qemu(), null, null);
    PlanProblem problem = only(plan(GOOD, noOvmf), "db", "firmware");
    assertThat(problem.message()).contains("firmware uefi needs OVMF").contains("package ovmf");
  }

  @Test
  void noQemuOnTheHostIsRefused() {
    DrHost noQemu = new DrHost(2, HOST_MEMORY, true, null, HOST.ovmfCode(), HOST.ovmfVars());
    PlanProblem problem = only(plan(GOOD, noQemu), null, null);
    assertThat(problem.message()).contains("qemu-system-x86_64 is not installed");
  }

  @Test
  void aDependencyCycleIsRefusedNamingTheCycle() {
    String yaml =
        GOOD.replace(
                "volumes: [db-data, db-log]\n",
                "volumes: [db-data, db-log]\n    dependsOn: [app]\n")
            .replace("    priority: 1\n", "")
            .replace("dependsOn: [db, web]", "dependsOn: [db]");
    PlanProblem problem = only(plan(yaml), "db", "dependsOn");
    assertThat(problem.message())
        .startsWith("server \"db\": dependsOn forms a cycle: db → app → db");
    RecoveryPlan p = plan(yaml);
    assertThat(p.bootOrder().stream().flatMap(g -> g.waves().stream()).flatMap(List::stream))
        .as("servers that could start")
        .containsExactly("legacy");
  }

  @Test
  void aLongerCycleAndASelfDependencyAreNamedWhole() {
    String yaml =
        """
        servers:
          - {name: a, volumes: [db-data], dependsOn: [b]}
          - {name: b, volumes: [db-log], dependsOn: [c]}
          - {name: c, volumes: [web-root], dependsOn: [a]}
          - {name: d, volumes: [app-root], dependsOn: [d]}
        """;
    RecoveryPlan p = plan(yaml);
    assertThat(p.problems())
        .extracting(PlanProblem::message)
        .anyMatch(m -> m.startsWith("server \"a\": dependsOn forms a cycle: a → b → c → a"))
        .anyMatch(m -> m.startsWith("server \"d\": dependsOn forms a cycle: d → d"));
  }

  @Test
  void aDependencyOnALaterGroupOrAnUnknownServerIsRefused() {
    PlanProblem later =
        only(
            plan(GOOD.replace("dependsOn: [db]", "dependsOn: [db, legacy]")),
            "web",
            "dependsOn[1]");
    assertThat(later.message()).contains("\"legacy\", which starts later, in priority group 5");
    PlanProblem unknown =
        only(plan(GOOD.replace("dependsOn: [db]", "dependsOn: [dbx]")), "web", "dependsOn[0]");
    assertThat(unknown.message()).contains("\"dbx\" is not a server of recovery.yaml");
  }

  @Test
  void aMissingVolumeIsRefused() {
    PlanProblem problem =
        only(plan(GOOD.replace("[db-data, db-log]", "[db-data, db-logs]")), "db", "volumes[1]");
    assertThat(problem.message())
        .startsWith(
            "server \"db\": volumes[1] \"db-logs\" is not a volume of this site (its volumes: ");
  }

  @Test
  void anInconsistentVolumeOrOneGivenTwiceIsRefused() {
    PlanProblem torn = only(plan(GOOD.replace("[app-root]", "[torn]")), "app", "volumes[0]");
    assertThat(torn.message()).contains("\"torn\" is resyncing, not crash-consistent");
    PlanProblem twice = only(plan(GOOD.replace("[app-root]", "[web-root]")), "web", "volumes[0]");
    assertThat(twice.message()).contains("is already server \"app\"'s disk");
  }

  @Test
  void unknownKeysNetworksAndValuesAreNamed() {
    RecoveryPlan p =
        plan(
            GOOD.replace("vcpus: 2\n", "cpus: 2\n")
                .replace("network: prod, model: e1000", "network: lan, model: e1000")
                .replace("{tcp: \"10.0.0.5:5432\"}", "{ping: 10.0.0.5}"));
    assertThat(p.problems())
        .extracting(pr -> pr.server() + " " + pr.key())
        .containsExactlyInAnyOrder("db cpus", "legacy nics[0].network", "db healthCheck");
  }

  @Test
  void aMissingFileIsAProblemNotAnException(@TempDir Path dir) {
    RecoveryPlan p =
        RecoveryPlanner.plan(
            RecoveryProfilesLoader.load(dir.resolve("recovery.yaml")), HOST, VOLUMES);
    assertThat(p.ok()).isFalse();
    assertThat(p.problems().get(0).message()).contains("recovery.yaml: no recovery profiles");
  }

  @Test
  void aKeyGivenTwiceIsNamed() {
    RecoveryPlan p = plan(GOOD.replace("    vcpus: 2\n", "    vcpus: 2\n    vcpus: 4\n"));
    assertThat(p.ok()).isFalse();
    assertThat(p.problems().get(0).message())
        .startsWith("recovery.yaml: not valid YAML (line ")
        .contains("Duplicate field 'vcpus'");
    assertThat(p.source()).isEqualTo("recovery.yaml");
  }

  @Test
  void memTotalIsReadInKibibytes() {
    assertThat(DrHost.memTotal("MemTotal:        8074000 kB\nMemFree:  1 kB\n"))
        .isEqualTo(HOST_MEMORY);
    assertThat(DrHost.gib(HOST_MEMORY)).isEqualTo("7.7 GiB");
  }
}
