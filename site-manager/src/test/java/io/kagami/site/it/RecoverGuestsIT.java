package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kagami.clock.SystemTime;
import io.kagami.site.SiteLink;
import io.kagami.site.it.guest.GuestConsole;
import io.kagami.site.it.guest.GuestDisks;
import io.kagami.site.it.guest.GuestVm;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance c of issue 14, with real processes: two "physical" servers are real Linux guests
 * ({@link GuestDisks}: partition table, SYSLINUX, kernel and root on the disk itself) whose disks
 * are Kagami volumes of two primary sites, {@code tokyo} ({@code db}) and {@code osaka} ({@code
 * app}), both replicating into one DR site ({@code dr}, N:1). Each guest boots once from its
 * primary's NBD export under QEMU (TCG) and writes its data with a checksum manifest, then powers
 * off cleanly. Once dr holds everything, both primaries are killed with kill -9, and an operator's
 * {@code kagami recover --all} on dr promotes each peer's volumes and boots both guests from their
 * replicas on the one DR host: {@code app} only after {@code db} passed its health check (the
 * console line {@code KAGAMI-GUEST READY <name>}), each guest verifying its data against its
 * manifest ({@code KAGAMI-GUEST VERIFY OK}). The report's RPO and RTO are checked against the
 * test's own clock; {@code recover stop} leaves no QEMU process behind. At most two guests run at
 * once; prints the boot and RTO times measured.
 */
class RecoverGuestsIT {
  private static final Duration T = Duration.ofMinutes(3);

  /** TCG boots of two guests at once on a loaded 2-CPU machine: minutes. */
  private static final Duration BOOT = Duration.ofMinutes(8);

  private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The guest disk plus room: volume sizes are multiples of 4 KiB. */
  private static final long VOLUME = GuestDisks.DISK_BYTES + (16L << 20);

  /** Primary site, its guest (host name) and its volume. */
  private static final Map<String, String> GUESTS = new LinkedHashMap<>();

  static {
    GUESTS.put("tokyo", "db");
    GUESTS.put("osaka", "app");
  }

  private static final String RECOVERY =
      """
      defaults:
        vcpus: 1
        memory: 256MiB
        machine: q35
        diskBus: virtio
        timeouts: {healthy: 8m, shutdown: 30s}
      servers:
        - name: db
          volumes: [tokyo.db-disk]
          priority: 1
          healthCheck: {console: "KAGAMI-GUEST READY db"}
        - name: app
          volumes: [osaka.app-disk]
          priority: 1
          dependsOn: [db]
          healthCheck: {console: "KAGAMI-GUEST READY app"}
      """;

  @TempDir Path dir;

  private record Primary(String id, String guest, SiteProcess site, int nbd) {
    String uri() {
      return "nbd://127.0.0.1:" + nbd + "/" + guest + "-disk";
    }
  }

  private static ExternalTool kagami() {
    return ExternalTool.of(ROOT.resolve("kagami"))
        .withEnv("KAGAMI_SKIP_BUILD", "1")
        .withEnv("KAGAMI_ADMIN", "");
  }

  @Test
  void bothPrimariesKilledAndRecoverAllBootsDbThenAppFromTheirReplicasOnOneDrHost()
      throws Exception {
    Map<String, Path> disks = new LinkedHashMap<>();
    for (String guest : GUESTS.values()) {
      disks.put(guest, GuestDisks.build(guest, GuestDisks.Variant.VIRTIO));
    }
    int[] ports = FreePorts.loopbackPorts(3 + 2 * GUESTS.size());
    int drNbd = ports[0];
    int drAdmin = ports[1];
    int drWan = ports[2];
    Path drCert = SiteLink.ensureCredentials(dir.resolve("dr/tls"), "dr");
    StringBuilder peers = new StringBuilder();
    Map<String, Primary> primaries = new LinkedHashMap<>();
    List<SiteProcess> all = new ArrayList<>();
    int i = 0;
    for (Map.Entry<String, String> e : GUESTS.entrySet()) {
      String id = e.getKey();
      String guest = e.getValue();
      int nbd = ports[3 + 2 * i];
      int admin = ports[4 + 2 * i];
      i++;
      Path cert = SiteLink.ensureCredentials(dir.resolve(id + "/tls"), id);
      peers.append(
          "  - {siteId: %s, certificate: %s, historyQuota: 512MiB, volumes: [{name: %s-disk, size: %d, retention: 1h}]}\n"
              .formatted(id, dir.relativize(cert), guest, VOLUME));
      Files.writeString(
          dir.resolve(id + ".yaml"),
          """
          site: {id: %s, role: primary}
          dataDir: %s
          nbd: {listen: "127.0.0.1:%d"}
          admin: {listen: "127.0.0.1:%d"}
          wan: {peer: "127.0.0.1:%d", peerSiteId: dr, peerCertificate: %s}
          volumes: [{name: %s-disk, size: %d, historyCapacity: 512MiB}]
          """
              .formatted(id, id, nbd, admin, drWan, dir.relativize(drCert), guest, VOLUME));
      SiteProcess p = new SiteProcess(dir.resolve(id + ".yaml"), "127.0.0.1:" + admin);
      primaries.put(id, new Primary(id, guest, p, nbd));
      all.add(p);
    }
    Files.writeString(
        dir.resolve("dr.yaml"),
        """
        site: {id: dr, role: standby}
        dataDir: dr
        nbd: {listen: "127.0.0.1:%d"}
        admin: {listen: "127.0.0.1:%d"}
        wan: {listen: "127.0.0.1:%d"}
        peers:
        %s"""
            .formatted(drNbd, drAdmin, drWan, peers.toString().stripTrailing()));
    Files.writeString(dir.resolve("recovery.yaml"), RECOVERY);
    // This machine's /dev/kvm opens but cannot run these guests ("KVM internal error"): TCG.
    SiteProcess dr =
        new SiteProcess(dir.resolve("dr.yaml"), "127.0.0.1:" + drAdmin)
            .jvmOptions(List.of("-Dkagami.qemu.accel=tcg"));
    all.add(dr);
    String admin = "127.0.0.1:" + drAdmin;
    List<GuestVm> vms = new ArrayList<>();
    try {
      dr.start();
      for (Primary p : primaries.values()) {
        p.site().start();
      }
      dr.awaitStatus(
          s -> s.path("link").path("connected").asBoolean(),
          Duration.ofSeconds(60),
          "both primaries to connect");

      // 1. Each "physical server" is installed on its primary's volume and boots from it once,
      // writing its data and manifest; both at once (two guests at most), then a clean power-off.
      Instant writing = SystemTime.WALL.instant();
      for (Primary p : primaries.values()) {
        GuestDisks.copyToNbd(disks.get(p.guest()), p.uri());
      }
      for (Primary p : primaries.values()) {
        vms.add(
            GuestVm.boot(
                new GuestVm.Spec(
                    p.guest(), dir.resolve("vm-" + p.id()), p.uri(), GuestVm.Bus.VIRTIO, 256, 0)));
      }
      Map<String, Integer> wrote = new LinkedHashMap<>();
      for (GuestVm vm : vms) {
        String line = vm.await(GuestConsole.WROTE, BOOT, "first boot's files and manifest");
        wrote.put(vm.name(), Integer.parseInt(line.substring(line.lastIndexOf(' ') + 1)));
        System.out.printf(
            "RecoverGuestsIT: %s power-on to WROTE %d (first boot, its primary's export): %.1f s%n",
            vm.name(), wrote.get(vm.name()), vm.secondsSinceBoot());
        vm.await(GuestConsole.READY, BOOT, "the guest ready on its primary");
      }
      for (GuestVm vm : vms) {
        vm.powerOff(Duration.ofMinutes(3));
        vm.close();
      }
      vms.clear();

      // 2. dr holds everything each primary journaled; then both primaries die.
      for (Primary p : primaries.values()) {
        awaitInSync(p, dr);
      }
      Instant synced = SystemTime.WALL.instant();
      for (Primary p : primaries.values()) {
        p.site().kill9();
      }

      // 3. The operator recovers both servers on the DR host.
      ExternalTool k = kagami();
      ExternalTool.Result plan = k.run(T, "recover", "plan", "--admin", admin);
      assertThat(plan.exitCode()).as(plan.describe()).isZero();
      Instant asked = SystemTime.WALL.instant();
      ExternalTool.Result run =
          k.run(BOOT.plus(BOOT), "recover", "--all", "--json", "--admin", admin);
      Instant answered = SystemTime.WALL.instant();
      assertThat(run.exitCode()).as(run.describe()).isZero();
      JsonNode report = JSON.readTree(run.stdout());
      assertThat(report.path("result").asText()).as(report.toString()).isEqualTo("ok");
      assertThat(report.path("kind").asText()).isEqualTo("recovery");
      assertThat(report.path("bootOrder").toString()).isEqualTo("[\"db\",\"app\"]");
      JsonNode db = server(report, "db");
      JsonNode app = server(report, "app");
      assertThat(Instant.parse(app.path("bootStartedAt").asText()))
          .as("app starts only after db passed its health check")
          .isAfterOrEqualTo(Instant.parse(db.path("healthyAt").asText()));
      Instant requestedAt = Instant.parse(report.path("requestedAt").asText());
      assertThat(requestedAt).isBetween(asked, answered);
      for (JsonNode s : List.of(db, app)) {
        String name = s.path("name").asText();
        assertThat(s.path("result").asText()).as(report.toString()).isEqualTo("HEALTHY");
        String console = Files.readString(Path.of(s.path("console").asText()));
        assertThat(console)
            .as("%s's console on the DR host", name)
            .contains("KAGAMI-GUEST VERIFY OK")
            .doesNotContain("KAGAMI-GUEST VERIFY FAIL")
            .contains("KAGAMI-GUEST READY " + name);
        Instant pointTime = Instant.parse(s.path("point").path("time").asText());
        assertThat(pointTime)
            .as("%s's point: a write journaled while the test wrote the guests", name)
            .isBetween(writing.minusMillis(5), synced.plusMillis(5));
        assertThat(s.path("rpoMillis").asLong())
            .isEqualTo(Duration.between(pointTime, requestedAt).toMillis())
            .isBetween(
                Duration.between(synced, asked).toMillis() - 5,
                Duration.between(writing, answered).toMillis() + 5);
        assertThat(s.path("rtoMillis").asLong())
            .as("%s's RTO within the test's own measure of the run", name)
            .isPositive()
            .isLessThanOrEqualTo(Duration.between(asked, answered).toMillis());
        JsonNode parts = s.path("rto");
        System.out.printf(
            "RecoverGuestsIT: %s RTO %d ms = prepare %d + export %d + vm start %d + boot %d + health %d ms (+ waiting for its dependencies); RPO %d ms%n",
            name,
            s.path("rtoMillis").asLong(),
            parts.path("prepareMillis").asLong(),
            parts.path("exportMillis").asLong(),
            parts.path("vmStartMillis").asLong(),
            parts.path("bootMillis").asLong(),
            parts.path("healthMillis").asLong(),
            s.path("rpoMillis").asLong());
      }
      System.out.printf(
          "RecoverGuestsIT: kagami recover --all answered in %.1f s%n",
          Duration.between(asked, answered).toMillis() / 1000.0);
      // Each peer was promoted (its volume a writable export); dr itself stays a standby.
      JsonNode after = dr.status();
      assertThat(after.path("role").asText()).isEqualTo("standby");
      for (Primary p : primaries.values()) {
        JsonNode v = volume(after, p.id() + "." + p.guest() + "-disk");
        assertThat(v.path("role").asText()).as("%s's volume on dr", p.id()).isEqualTo("primary");
      }

      // 4. recover stop leaves no QEMU process behind.
      JsonNode status =
          JSON.readTree(k.run(T, "recover", "status", "--json", "--admin", admin).stdout());
      List<Long> pids = new ArrayList<>();
      status.path("running").path("servers").forEach(s -> pids.add(s.path("pid").asLong()));
      assertThat(pids).hasSize(2);
      ExternalTool.Result stop = k.run(T, "recover", "stop", "--admin", admin);
      assertThat(stop.exitCode()).as(stop.describe()).isZero();
      for (long pid : pids) {
        assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
            .as("QEMU pid %d after recover stop", pid)
            .isFalse();
      }
    } finally {
      for (GuestVm vm : vms) {
        vm.close();
      }
      for (SiteProcess p : all) {
        p.close();
      }
    }
  }

  private static void awaitInSync(Primary p, SiteProcess dr) throws Exception {
    String local = p.id() + "." + p.guest() + "-disk";
    long target = volume(p.site().status(), p.guest() + "-disk").path("lastJournaledSeq").asLong();
    p.site()
        .awaitStatus(
            s -> {
              JsonNode v = volume(s, p.guest() + "-disk");
              return v.path("lastAckedByPeerSeq").asLong() >= target
                  && v.path("lagBytes").asLong() == 0;
            },
            T,
            p.id() + " acknowledged through seq " + target);
    dr.awaitStatus(
        s -> volume(s, local).path("lastAppliedSeq").asLong() >= target,
        T,
        "dr applied " + local + " through seq " + target);
  }

  private static JsonNode volume(JsonNode status, String name) {
    for (JsonNode v : status.path("volumes")) {
      if (v.path("name").asText().equals(name)) {
        return v;
      }
    }
    throw new AssertionError("no volume " + name + " in " + status);
  }

  private static JsonNode server(JsonNode report, String name) {
    for (JsonNode s : report.path("servers")) {
      if (s.path("name").asText().equals(name)) {
        return s;
      }
    }
    throw new AssertionError("no server " + name + " in " + report);
  }
}
