package io.kagami.site.recovery.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.clock.SystemTime;
import io.kagami.site.recovery.DrHost;
import io.kagami.site.recovery.RecoveryPlan;
import io.kagami.site.recovery.RecoveryPlanner;
import io.kagami.site.recovery.RecoveryProfilesLoader;
import io.kagami.site.recovery.ReplicaVolume;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The orchestrator's ordering, blocking, deadlines, retries, report, stop and restart clean-up,
 * with VMs that are real child processes ({@code sh} scripts that write their "serial console" into
 * the console file the orchestrator follows, or exit, or hang): a dependant starts only once its
 * dependency's console showed its marker; a dependency that exits blocks its dependants; a hung VM
 * misses its deadline, is killed and started again; stop, and a second orchestrator after the first
 * was abandoned (as by kill -9), leave no process or drill clone behind.
 */
class RecoveryOrchestratorTest {
  private static final long WAIT_S = 60;

  @TempDir Path dir;
  private final List<RecoveryOrchestrator> started = new ArrayList<>();
  private final Instant pointTime = SystemTime.WALL.instant().minusSeconds(5);

  @AfterEach
  void closeAll() {
    started.forEach(RecoveryOrchestrator::close);
  }

  private static final String YAML =
      """
      defaults:
        vcpus: 1
        memory: 64MiB
        timeouts: {healthy: %s, shutdown: 5s, attempts: %d}
      servers:
        - name: db
          volumes: [db-disk]
          priority: 1
          healthCheck: {console: "DB READY"}
        - name: app
          volumes: [app-disk]
          priority: 2
          dependsOn: [db]
          healthCheck: {console: "APP READY"}
      """;

  /** Disks as a site would prepare them, recorded. */
  final class FakeDisks implements RecoveryDisks {
    final List<String> drilled = Collections.synchronizedList(new ArrayList<>());
    final List<String> stopped = Collections.synchronizedList(new ArrayList<>());
    final List<List<String>> promoted = Collections.synchronizedList(new ArrayList<>());
    volatile Instant pointAt = pointTime;

    private Prepared prepared(List<String> volumes, String suffix) {
      List<Point> points = new ArrayList<>();
      for (String v : volumes) {
        points.add(new Point(v, v + suffix, 42, pointAt));
      }
      return new Prepared(points, 3_000_000, 1_000_000);
    }

    @Override
    public CompletableFuture<Prepared> drill(List<String> volumes, Long seq, Instant at) {
      drilled.addAll(volumes);
      return CompletableFuture.completedFuture(prepared(volumes, "-drill"));
    }

    @Override
    public boolean stopDrill(String volume) {
      return drilled.contains(volume) && !stopped.contains(volume) && stopped.add(volume);
    }

    @Override
    public VolumesPromoter promoter() {
      return (volumes, seq, at) -> {
        promoted.add(List.copyOf(volumes));
        return CompletableFuture.completedFuture(prepared(volumes, ""));
      };
    }

    @Override
    public String nbdHost() {
      return "127.0.0.1";
    }

    @Override
    public int nbdPort() {
      return 10809;
    }
  }

  /** VMs as shell scripts; each attempt's script gets ATTEMPT=n and writes to its console. */
  static final class ScriptLauncher implements VmLauncher {
    final Map<String, String> scripts;
    final List<String> launched = Collections.synchronizedList(new ArrayList<>());
    final List<ProcessHandle> processes = Collections.synchronizedList(new ArrayList<>());
    final Map<String, String> consoleOfDbWhenAppStarted = new ConcurrentHashMap<>();
    Path dbConsole;

    ScriptLauncher(Map<String, String> scripts) {
      this.scripts = scripts;
    }

    @Override
    public RunningVm launch(Spec spec) throws IOException {
      String name = spec.server().name();
      launched.add(name + "#" + spec.attempt());
      if (name.equals("db")) {
        dbConsole = spec.launch().console();
      }
      if (name.equals("app") && dbConsole != null) {
        consoleOfDbWhenAppStarted.put("db", Files.readString(dbConsole));
      }
      ProcessBuilder b =
          new ProcessBuilder("sh", "-c", scripts.get(name))
              .redirectErrorStream(true)
              .redirectOutput(spec.launch().console().toFile());
      b.environment().put("ATTEMPT", Integer.toString(spec.attempt()));
      Process p = b.start();
      processes.add(p.toHandle());
      return new ProcessVm(p);
    }
  }

  private RecoveryOrchestrator orchestrator(FakeDisks disks, VmLauncher launcher) {
    RecoveryOrchestrator o =
        new RecoveryOrchestrator(dir, disks, launcher, launcher, SystemTime.WALL, SystemTime.NANO);
    o.start();
    started.add(o);
    return o;
  }

  /** A recovery of every server of {@code loaded}, VMs from {@code vms}: its report. */
  private RecoveryReport recoverAll(ScriptLauncher vms, RecoveryProfilesLoader.Result loaded)
      throws Exception {
    RecoveryOrchestrator o = orchestrator(new FakeDisks(), vms);
    return o.run(plan(loaded), loaded.profiles(), all(false))
        .report()
        .get(WAIT_S, TimeUnit.SECONDS);
  }

  private static RecoveryProfilesLoader.Result profiles(String healthy, int attempts) {
    RecoveryProfilesLoader.Result r =
        RecoveryProfilesLoader.parse(YAML.formatted(healthy, attempts), "recovery.yaml");
    assertThat(r.problems()).isEmpty();
    return r;
  }

  private static RecoveryPlan plan(RecoveryProfilesLoader.Result loaded) {
    DrHost host =
        new DrHost(2, 4L << 30, false, Path.of("/usr/bin/qemu-system-x86_64"), null, null);
    return RecoveryPlanner.plan(
        loaded,
        host,
        List.of(
            new ReplicaVolume("db-disk", "replicating", 1 << 20),
            new ReplicaVolume("app-disk", "replicating", 1 << 20)));
  }

  private static RecoveryRequest all(boolean drill) {
    return new RecoveryRequest(List.of(), null, null, drill, false, Duration.ofHours(1));
  }

  private static RecoveryReport.Server server(RecoveryReport r, String name) {
    return r.servers().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
  }

  @Test
  void aDependantStartsOnlyOnceItsDependencyPassedItsCheckAndTheReportSaysWhen() throws Exception {
    FakeDisks disks = new FakeDisks();
    ScriptLauncher vms =
        new ScriptLauncher(
            Map.of(
                "db", "echo booting; sleep 0.5; echo 'DB READY'; exec sleep 300",
                "app", "echo 'APP READY'; exec sleep 300"));
    RecoveryOrchestrator o = orchestrator(disks, vms);
    RecoveryProfilesLoader.Result loaded = profiles("30s", 1);
    Instant before = SystemTime.WALL.instant();
    RecoveryReport r =
        o.run(plan(loaded), loaded.profiles(), all(false)).report().get(WAIT_S, TimeUnit.SECONDS);
    Instant after = SystemTime.WALL.instant();

    assertThat(r.result()).as("report %s", r).isEqualTo("ok");
    assertThat(r.kind()).isEqualTo("recovery");
    assertThat(r.bootOrder()).containsExactly("db", "app");
    assertThat(vms.launched).containsExactly("db#1", "app#1");
    assertThat(vms.consoleOfDbWhenAppStarted.get("db"))
        .as("db's console when app's VM was started")
        .contains("DB READY");
    assertThat(disks.promoted)
        .as("one promotion for the whole run, of every server's volumes")
        .containsExactly(List.of("db-disk", "app-disk"));
    RecoveryReport.Server db = server(r, "db");
    RecoveryReport.Server app = server(r, "app");
    assertThat(db.result()).isEqualTo(RecoveryReport.Result.HEALTHY);
    assertThat(app.result()).isEqualTo(RecoveryReport.Result.HEALTHY);
    assertThat(Instant.parse(app.bootStartedAt())).isAfterOrEqualTo(Instant.parse(db.healthyAt()));
    Instant requested = Instant.parse(r.requestedAt());
    assertThat(requested).isBetween(before, after);
    assertThat(db.point().seq()).isEqualTo(42);
    assertThat(db.rpoMillis())
        .as("RPO: the request minus the point's write time")
        .isEqualTo(Duration.between(pointTime, requested).toMillis());
    assertThat(db.rtoMillis())
        .as("RTO of db, measured against the test's own clock")
        .isBetween(500L, Duration.between(before, after).toMillis());
    assertThat(app.rtoMillis()).isGreaterThanOrEqualTo(db.rtoMillis());
    assertThat(db.rto().prepareMillis()).isEqualTo(3);
    assertThat(db.rto().exportMillis()).isEqualTo(1);
    assertThat(db.rto().bootMillis() + db.rto().healthMillis())
        .as("db boot + health covers its 0.5 s to the marker")
        .isGreaterThanOrEqualTo(450);
    assertThat(db.attempts()).isEqualTo(1);
    Path report = dir.resolve("recovery/reports/" + r.id() + ".json");
    assertThat(
            RunState.json().readTree(report.toFile()).path("servers").get(0).path("name").asText())
        .isEqualTo("db");

    Map<String, Object> stopped = o.stop("test ends");
    assertThat(stopped.get("vmsStopped").toString()).contains("db").contains("app");
    for (ProcessHandle p : vms.processes) {
      assertThat(p.isAlive()).as("VM pid %d after stop", p.pid()).isFalse();
    }
    assertThat(RunState.file(dir)).doesNotExist();
  }

  @Test
  void aDependencyWhoseVmExitsBlocksItsDependantsAndTheReportSaysSo() throws Exception {
    ScriptLauncher vms =
        new ScriptLauncher(Map.of("db", "echo 'kernel panic'; exit 3", "app", "echo 'APP READY'"));
    RecoveryProfilesLoader.Result loaded = profiles("30s", 1);
    RecoveryReport r = recoverAll(vms, loaded);

    assertThat(r.result()).isEqualTo("failed");
    assertThat(vms.launched).as("app is never started").containsExactly("db#1");
    assertThat(r.bootOrder()).containsExactly("db");
    RecoveryReport.Server db = server(r, "db");
    assertThat(db.result()).isEqualTo(RecoveryReport.Result.FAILED);
    assertThat(db.reason()).contains("its VM exited (code 3) before its health check passed");
    RecoveryReport.Server app = server(r, "app");
    assertThat(app.result()).isEqualTo(RecoveryReport.Result.BLOCKED);
    assertThat(app.blockedBy()).containsExactly("db");
    assertThat(app.reason()).contains("not started: db did not pass its health check");
    assertThat(app.bootStartedAt()).isNull();
    assertThat(app.rtoMillis()).isNull();
  }

  @Test
  void aVmThatMissesItsDeadlineIsKilledAndStartedAgainUpToItsAttempts() throws Exception {
    FakeDisks disks = new FakeDisks();
    ScriptLauncher vms =
        new ScriptLauncher(
            Map.of(
                "db",
                "if [ \"$ATTEMPT\" = 1 ]; then echo hung; exec sleep 300; fi; echo 'DB READY'; exec sleep 300",
                "app",
                "echo 'APP READY'; exec sleep 300"));
    RecoveryOrchestrator o = orchestrator(disks, vms);
    RecoveryProfilesLoader.Result loaded = profiles("1s", 2);
    RecoveryReport r =
        o.run(plan(loaded), loaded.profiles(), all(false)).report().get(WAIT_S, TimeUnit.SECONDS);

    assertThat(r.result()).as("report %s", r).isEqualTo("ok");
    assertThat(vms.launched).containsExactly("db#1", "db#2", "app#1");
    assertThat(vms.processes.getFirst().isAlive())
        .as("the first, hung attempt's VM was killed")
        .isFalse();
    assertThat(server(r, "db").attempts()).isEqualTo(2);
    assertThat(server(r, "db").console()).endsWith("db-2.console");
    o.stop("test ends");
  }

  @Test
  void aBootThatSaysItFailedEndsAtOnceNotAtItsHealthTimeoutAndTheReportQuotesIt() throws Exception {
    ScriptLauncher vms =
        new ScriptLauncher(
            Map.of(
                "db",
                "echo 'Begin: Running /scripts/local-block ... done.'; sleep 0.2;"
                    + " printf 'Gave up waiting for root file system device.\\r\\n';"
                    + " echo 'ALERT!  /dev/sda2 does not exist.  Dropping to a shell!';"
                    + " exec sleep 300",
                "app",
                "echo 'APP READY'; exec sleep 300"));
    RecoveryProfilesLoader.Result loaded = profiles("5m", 1);
    long start = SystemTime.NANO.nanoTime();
    RecoveryReport r = recoverAll(vms, loaded);
    double seconds = SystemTime.NANO.nanosSince(start) / 1e9;

    RecoveryReport.Server db = server(r, "db");
    assertThat(db.result()).isEqualTo(RecoveryReport.Result.FAILED);
    assertThat(db.reason())
        .isEqualTo(
            "its console says the boot failed: \"Gave up waiting for root file system device.\"");
    assertThat(seconds)
        .as("seconds to the run's end, with a 5 min health timeout")
        .isLessThan(30.0);
    assertThat(server(r, "app").result()).isEqualTo(RecoveryReport.Result.BLOCKED);
    assertThat(vms.processes.getFirst().isAlive()).as("db's VM after its failed boot").isFalse();
  }

  @Test
  void anEmptyBootFailureListWatchesNothingAndTheHealthTimeoutDecides() throws Exception {
    ScriptLauncher vms =
        new ScriptLauncher(
            Map.of("db", "echo 'Kernel panic - not syncing: test'; exec sleep 300", "app", ""));
    RecoveryProfilesLoader.Result loaded =
        RecoveryProfilesLoader.parse(
            YAML.formatted("1s", 1).replace("defaults:\n", "defaults:\n  bootFailure: []\n"),
            "recovery.yaml");
    assertThat(loaded.problems()).isEmpty();
    assertThat(loaded.profiles().servers().getFirst().bootFailure()).isEmpty();
    RecoveryReport r = recoverAll(vms, loaded);
    assertThat(server(r, "db").reason())
        .contains("its health check (console \"DB READY\") did not pass within PT1S");
  }

  @Test
  void everyAttemptMissingItsDeadlineFailsTheServerAndBlocksTheNext() throws Exception {
    ScriptLauncher vms =
        new ScriptLauncher(Map.of("db", "echo hung; exec sleep 300", "app", "echo 'APP READY'"));
    RecoveryProfilesLoader.Result loaded = profiles("1s", 1);
    RecoveryReport r = recoverAll(vms, loaded);
    assertThat(server(r, "db").result()).isEqualTo(RecoveryReport.Result.FAILED);
    assertThat(server(r, "db").reason())
        .contains("its health check (console \"DB READY\") did not pass within PT1S");
    assertThat(server(r, "app").result()).isEqualTo(RecoveryReport.Result.BLOCKED);
    assertThat(vms.processes.getFirst().isAlive()).isFalse();
  }

  @Test
  void aPointWrittenAfterTheRequestLacksNothingItsRpoIsZero() throws Exception {
    FakeDisks disks = new FakeDisks();
    // The replica kept receiving between the request and its clone: its newest write is younger.
    disks.pointAt = SystemTime.WALL.instant().plusSeconds(2);
    ScriptLauncher vms =
        new ScriptLauncher(
            Map.of(
                "db",
                "echo 'DB READY'; exec sleep 300",
                "app",
                "echo 'APP READY'; exec sleep 300"));
    RecoveryOrchestrator o = orchestrator(disks, vms);
    RecoveryProfilesLoader.Result loaded = profiles("30s", 1);
    RecoveryReport r =
        o.run(plan(loaded), loaded.profiles(), all(true)).report().get(WAIT_S, TimeUnit.SECONDS);
    assertThat(Instant.parse(server(r, "db").point().time()))
        .isAfter(Instant.parse(r.requestedAt()));
    assertThat(server(r, "db").rpoMillis()).as("RPO of a point newer than the request").isZero();
    o.stop("test ends");
  }

  @Test
  void aDrillMarksThePointTestedAndStopRemovesEveryVmAndClone() throws Exception {
    FakeDisks disks = new FakeDisks();
    ScriptLauncher vms =
        new ScriptLauncher(
            Map.of(
                "db",
                "echo 'DB READY'; exec sleep 300",
                "app",
                "echo 'APP READY'; exec sleep 300"));
    RecoveryOrchestrator o = orchestrator(disks, vms);
    RecoveryProfilesLoader.Result loaded = profiles("30s", 1);
    RecoveryReport r =
        o.run(plan(loaded), loaded.profiles(), all(true)).report().get(WAIT_S, TimeUnit.SECONDS);
    assertThat(r.kind()).isEqualTo("drill");
    assertThat(r.result()).isEqualTo("ok");
    assertThat(disks.drilled).containsExactly("db-disk", "app-disk");
    assertThat(server(r, "db").point().export()).isEqualTo("db-disk-drill");
    assertThat(RunState.read(dir).vms()).hasSize(2);
    assertThat(RunState.read(dir).drills()).containsExactly("db-disk", "app-disk");

    assertThatThrownBy(() -> o.run(plan(loaded), loaded.profiles(), all(true)))
        .isInstanceOf(RecoveryRefused.class)
        .hasMessageContaining("still holding its VMs")
        .hasMessageContaining("kagami recover stop");

    Map<String, Object> st = o.status();
    assertThat(st.toString()).contains("lastTested").contains("db").contains("seq=42");
    o.stop("drill done");
    assertThat(disks.stopped).containsExactlyInAnyOrder("db-disk", "app-disk");
    for (ProcessHandle p : vms.processes) {
      assertThat(p.isAlive()).as("VM pid %d after stop", p.pid()).isFalse();
    }
    assertThat(o.lastDrillMillis()).isPositive();
    assertThat(Files.readString(dir.resolve("recovery/tested.json")))
        .contains("\"db\"")
        .contains(r.id());
  }

  @Test
  void aSiteRestartedAfterItsOrchestratorWasKilledRemovesTheDrillItLeft() throws Exception {
    FakeDisks disks = new FakeDisks();
    ScriptLauncher vms =
        new ScriptLauncher(
            Map.of(
                "db",
                "echo 'DB READY'; exec sleep 300",
                "app",
                "echo 'APP READY'; exec sleep 300"));
    RecoveryOrchestrator first = orchestrator(disks, vms);
    RecoveryProfilesLoader.Result loaded = profiles("30s", 1);
    RecoveryReport r =
        first
            .run(plan(loaded), loaded.profiles(), all(true))
            .report()
            .get(WAIT_S, TimeUnit.SECONDS);
    assertThat(vms.processes).allMatch(ProcessHandle::isAlive);

    // The first orchestrator is abandoned as a kill -9 would: nothing of it runs its clean-up.
    FakeDisks afterRestart = new FakeDisks();
    afterRestart.drilled.addAll(List.of("db-disk", "app-disk"));
    orchestrator(afterRestart, vms);
    for (ProcessHandle p : vms.processes) {
      assertThat(p.isAlive()).as("VM pid %d after the restart", p.pid()).isFalse();
    }
    assertThat(afterRestart.stopped).containsExactlyInAnyOrder("db-disk", "app-disk");
    assertThat(RunState.file(dir)).doesNotExist();
    assertThat(Files.readString(dir.resolve("recovery/reports/" + r.id() + ".json")))
        .as("the drill's report stays")
        .contains("\"result\" : \"ok\"");
  }

  @Test
  void aPlanWithProblemsIsRefusedAndNothingStarts() {
    FakeDisks disks = new FakeDisks();
    ScriptLauncher vms = new ScriptLauncher(Map.of());
    RecoveryOrchestrator o = orchestrator(disks, vms);
    RecoveryProfilesLoader.Result loaded = profiles("30s", 1);
    DrHost small =
        new DrHost(2, 32L << 20, false, Path.of("/usr/bin/qemu-system-x86_64"), null, null);
    RecoveryPlan bad =
        RecoveryPlanner.plan(
            loaded, small, List.of(new ReplicaVolume("db-disk", "replicating", 1 << 20)));
    assertThatThrownBy(() -> o.run(bad, loaded.profiles(), all(false)))
        .isInstanceOf(RecoveryRefused.class)
        .hasMessageContaining("nothing was started")
        .hasMessageContaining(
            "server \"app\": volumes[0] \"app-disk\" is not a volume of this site");
    assertThat(vms.launched).isEmpty();
    assertThat(disks.promoted).isEmpty();
    assertThat(RunState.file(dir)).doesNotExist();
  }

  @Test
  void aTcpCheckPassesOnceTheVmListens() throws Exception {
    int port = io.kagami.testkit.net.FreePorts.loopbackPort();
    String yaml =
        """
        servers:
          - name: db
            volumes: [db-disk]
            memory: 64MiB
            vcpus: 1
            timeouts: {healthy: 30s, shutdown: 5s}
            healthCheck: {tcp: "127.0.0.1:%d"}
        """
            .formatted(port);
    RecoveryProfilesLoader.Result loaded = RecoveryProfilesLoader.parse(yaml, "recovery.yaml");
    assertThat(loaded.problems()).isEmpty();
    FakeDisks disks = new FakeDisks();
    // The "VM" listens on the port only after a while: the check must wait for it, not pass at
    // once.
    ScriptLauncher vms =
        new ScriptLauncher(
            Map.of(
                "db",
                ("echo booting; sleep 0.5; exec python3 -c \"import socket,time; s=socket.socket();"
                        + " s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);"
                        + " s.bind(('127.0.0.1', %d)); s.listen(); print('listening', flush=True);"
                        + " time.sleep(300)\"")
                    .formatted(port)));
    RecoveryOrchestrator o = orchestrator(disks, vms);
    RecoveryReport r =
        o.run(plan(loaded), loaded.profiles(), all(false)).report().get(WAIT_S, TimeUnit.SECONDS);
    assertThat(r.result()).as("report %s", r).isEqualTo("ok");
    RecoveryReport.Server db = server(r, "db");
    assertThat(db.healthCheck()).isEqualTo("tcp 127.0.0.1:" + port);
    assertThat(Files.readString(Path.of(db.console())))
        .as("the check passed only once the VM listened")
        .contains("listening");
    o.stop("test ends");
  }

  @Test
  void aDrillStopsByItselfWhenItsTimeToLiveEnds() throws Exception {
    FakeDisks disks = new FakeDisks();
    ScriptLauncher vms =
        new ScriptLauncher(
            Map.of(
                "db",
                "echo 'DB READY'; exec sleep 300",
                "app",
                "echo 'APP READY'; exec sleep 300"));
    RecoveryOrchestrator o = orchestrator(disks, vms);
    RecoveryProfilesLoader.Result loaded = profiles("30s", 1);
    RecoveryRequest shortDrill =
        new RecoveryRequest(List.of(), null, null, true, false, Duration.ofSeconds(2));
    RecoveryReport r =
        o.run(plan(loaded), loaded.profiles(), shortDrill).report().get(WAIT_S, TimeUnit.SECONDS);
    assertThat(r.result()).isEqualTo("ok");
    for (ProcessHandle p : vms.processes) {
      p.onExit().get(WAIT_S, TimeUnit.SECONDS);
    }
    assertThat(o.status().get("running")).as("the run after its time-to-live").isNull();
    assertThat(disks.stopped).containsExactlyInAnyOrder("db-disk", "app-disk");
    assertThat(RunState.file(dir)).doesNotExist();
  }
}
