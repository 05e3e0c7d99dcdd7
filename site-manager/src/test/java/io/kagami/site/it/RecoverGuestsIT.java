package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kagami.clock.SystemTime;
import io.kagami.site.it.GuestSites.Primary;
import io.kagami.site.it.guest.GuestConsole;
import io.kagami.site.it.guest.GuestDisks;
import io.kagami.site.it.guest.GuestVm;
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

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Primary site → its guest (host name): db on tokyo, app on osaka. */
  private static final Map<String, String> GUESTS = GuestSites.dbAndApp();

  private static final String RECOVERY = GuestSites.recoveryYaml(GUESTS, "", "");

  @TempDir Path dir;

  @Test
  void bothPrimariesKilledAndRecoverAllBootsDbThenAppFromTheirReplicasOnOneDrHost()
      throws Exception {
    Map<String, Path> disks = new LinkedHashMap<>();
    for (String guest : GUESTS.values()) {
      disks.put(guest, GuestDisks.build(guest, GuestDisks.Variant.VIRTIO));
    }
    List<GuestVm> vms = new ArrayList<>();
    try (GuestSites sites = GuestSites.create(dir, GUESTS, RECOVERY)) {
      sites.start();
      SiteProcess dr = sites.dr;
      String admin = sites.admin;
      Map<String, Primary> primaries = sites.primaries;

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
        sites.awaitInSync(p);
      }
      Instant synced = SystemTime.WALL.instant();
      for (Primary p : primaries.values()) {
        p.site().kill9();
      }

      // 3. The operator recovers both servers on the DR host.
      ExternalTool k = GuestSites.kagami();
      ExternalTool.Result plan = k.run(T, "recover", "plan", "--admin", admin);
      assertThat(plan.exitCode()).as(plan.describe()).isZero();
      Instant asked = SystemTime.WALL.instant();
      ExternalTool.Result run =
          k.run(BOOT.plus(BOOT), "recover", "--all", "--json", "--admin", admin);
      Instant answered = SystemTime.WALL.instant();
      JsonNode report = GuestSites.reportOfDbThenApp(run, "recovery");
      JsonNode db = GuestSites.server(report, "db");
      JsonNode app = GuestSites.server(report, "app");
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
        JsonNode v = GuestSites.volume(after, p.drVolume());
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
    }
  }
}
