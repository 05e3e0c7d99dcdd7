package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.clock.SystemTime;
import io.kagami.site.it.GuestSites.Primary;
import io.kagami.site.it.guest.GuestConsole;
import io.kagami.site.it.guest.GuestDisks;
import io.kagami.site.it.guest.GuestVm;
import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance c and d of issue 14 with real Linux guests, on one set of sites (their guest boots are
 * the suite's slowest minutes): two "physical" servers are real Linux guests ({@link GuestDisks}:
 * partition table, SYSLINUX, kernel and root on the disk itself) whose disks are Kagami volumes of
 * two primary sites, {@code tokyo} ({@code db}) and {@code osaka} ({@code app}), both replicating
 * into one DR site ({@code dr}, N:1). Each guest boots once from its primary's NBD export under
 * QEMU (TCG), writes its data with a checksum manifest, and powers off. Then:
 *
 * <ul>
 *   <li>A drill ({@code kagami recover --all --drill}) while both primaries keep writing boots both
 *       guests from copy-on-write clones of their replicas, {@code app} only after {@code db}
 *       passed its health check; each verifies its data against its manifest and then writes into
 *       its clone (guest-init's live writer).
 *   <li>The drill never changes a replica: each replica's guest region has the same SHA-256 before
 *       and after the drill, and after the drill and catch-up each whole replica equals its source
 *       byte for byte, so nothing the drill guests wrote (their clones differ from the replicas,
 *       checked while they run) reached it.
 *   <li>Replication goes on: the primaries' writes made during the drill reach dr while the drill
 *       VMs run, and the lag read from the primaries' {@code /status} drains to zero with the VMs
 *       still running.
 *   <li>Isolation: a TCP listener the test opens on the host stands for a production service. Each
 *       guest probes it at boot ({@code PROBE=10.0.2.2:PORT} in its guest-init settings) and says
 *       on its console whether it got the listener's answer. The control: on the servers' own boot
 *       on their primaries, with an open NIC, the same probe reaches it; in the drill (the isolated
 *       drill network) it does not, and the listener counts no connection.
 *   <li>{@code recover stop} leaves no QEMU process, no drill clone (export, overlay file, status
 *       entry), no run state and no listening port behind; the same after kill -9 of dr mid-drill
 *       (its QEMU processes outlive it) and its restart.
 *   <li>The real thing: both primary sites are killed with kill -9, and an operator's {@code kagami
 *       recover --all} on dr promotes each peer's volumes and boots both guests from their replicas
 *       on the one DR host, {@code app} only after {@code db} passed its health check (the console
 *       line {@code KAGAMI-GUEST READY <name>}), each verifying its data against its manifest
 *       ({@code KAGAMI-GUEST VERIFY OK}). The report's RPO and RTO are checked against the test's
 *       own clock; {@code recover stop} leaves no QEMU process behind.
 * </ul>
 *
 * <p>At most two guests run at once on the test machines, so the primaries' continuing writes come
 * from {@link HostWriters} (NBD writers on the host, into the 16 MiB of each volume that the guest
 * disk does not cover), not from running primary guests: the two guests running are the drill's.
 * Prints the boot, RTO and RPO times measured.
 */
class RecoverGuestsIT {
  private static final Duration T = GuestSites.T;

  /** TCG boots of two guests on a loaded 2-CPU machine: minutes. */
  private static final Duration BOOT = Duration.ofMinutes(8);

  private static final Map<String, String> GUESTS = GuestSites.dbAndApp();

  /**
   * Production is a bridge on the real DR host; the drill network is isolated (QEMU user networking
   * restricted to the VM). A drill attaches each NIC to its drill network only.
   */
  private static final String RECOVERY =
      GuestSites.recoveryYaml(
          GUESTS,
          """
          networks:
            production: {bridge: br-prod}
            drill: {isolated: true}
          """,
          "[{network: production, drillNetwork: drill}]");

  private static final String ANSWER = "KAGAMI-PRODUCTION";

  @TempDir Path dir;

  /**
   * A TCP listener on the host's loopback standing for a production service; counts connections.
   */
  private static final class ProductionListener implements AutoCloseable {
    private final ServerSocket server;
    private final AtomicInteger connections = new AtomicInteger();

    ProductionListener() throws IOException {
      server = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
      Thread.ofPlatform()
          .name("production-listener")
          .daemon(true)
          .start(
              () -> {
                while (!server.isClosed()) {
                  try (Socket s = server.accept();
                      OutputStream out = s.getOutputStream()) {
                    connections.incrementAndGet();
                    out.write((ANSWER + "\n").getBytes(StandardCharsets.US_ASCII));
                  } catch (IOException e) {
                    // closed: the loop ends; a client that went away: next one
                  }
                }
              });
    }

    int port() {
      return server.getLocalPort();
    }

    int connections() {
      return connections.get();
    }

    @Override
    public void close() throws IOException {
      server.close();
    }
  }

  @Test
  void aDrillWhileThePrimariesWriteThenRecoverAllAfterBothDieBootDbThenAppOnOneDrHost()
      throws Exception {
    long seed = SystemTime.NANO.nanoTime();
    System.out.println("RecoverGuestsIT: seed " + seed);
    List<GuestVm> vms = new ArrayList<>();
    try (ProductionListener production = new ProductionListener();
        GuestSites sites = GuestSites.create(dir, GUESTS, RECOVERY)) {
      sites.start();
      ExternalTool k = GuestSites.kagami();
      String probe = "10.0.2.2:" + production.port();
      String probeLine = "KAGAMI-GUEST PROBE " + probe;
      Instant writing = SystemTime.WALL.instant();

      // 1. Each server's own boot on its primary, with an open NIC: the control, the probe reaches
      // the production listener.
      for (Primary p : sites.all()) {
        Path disk =
            GuestDisks.withConfig(
                GuestDisks.build(p.guest(), GuestDisks.Variant.VIRTIO),
                dir.resolve(p.guest() + ".raw"),
                "PROBE=" + probe + "\n");
        GuestDisks.copyToNbd(disk, p.uri());
        Files.delete(disk);
      }
      for (Primary p : sites.all()) {
        vms.add(
            GuestVm.boot(
                new GuestVm.Spec(
                    p.guest(),
                    dir.resolve("vm-" + p.id()),
                    p.uri(),
                    GuestVm.Bus.VIRTIO,
                    256,
                    0,
                    GuestVm.Firmware.BIOS,
                    true)));
      }
      for (GuestVm vm : vms) {
        vm.await(GuestConsole.WROTE, BOOT, "first boot's files and manifest");
        assertThat(vm.await("KAGAMI-GUEST PROBE ", BOOT, "the probe of production"))
            .as("%s on its primary, open NIC: the control", vm.name())
            .isEqualTo(probeLine + " REACHED " + ANSWER);
        vm.await(GuestConsole.READY, BOOT, "the guest ready on its primary");
        System.out.printf(
            "RecoverGuestsIT: %s booted on its primary to READY in %.1f s%n",
            vm.name(), vm.secondsSinceBoot());
      }
      for (GuestVm vm : vms) {
        vm.powerOff(Duration.ofMinutes(3));
        vm.close();
      }
      vms.clear();
      assertThat(production.connections()).as("the control probes reached it").isEqualTo(2);

      // 2. The replicas before the drill: their guest regions' checksums.
      Map<String, String> before = new LinkedHashMap<>();
      for (Primary p : sites.all()) {
        sites.awaitInSync(p);
        before.put(p.id(), guestRegion(sites, p.drVolume()));
      }
      Set<Integer> portsBefore = sites.drListeningPorts();

      // 3. The drill, while both primaries keep writing.
      try (HostWriters writers = HostWriters.start(sites.all(), seed)) {
        writers.awaitMore(8, T);
        ExternalTool.Result run =
            k.run(BOOT.plus(BOOT), "recover", "--all", "--drill", "--json", "--admin", sites.admin);
        JsonNode report = GuestSites.reportOfDbThenApp(run, "drill");
        JsonNode db = GuestSites.server(report, "db");
        JsonNode app = GuestSites.server(report, "app");
        for (JsonNode s : List.of(db, app)) {
          String name = s.path("name").asText();
          assertThat(s.path("point").path("export").asText()).endsWith("-disk-drill");
          String console = Files.readString(Path.of(s.path("console").asText()));
          assertThat(console)
              .as("%s's console in the drill", name)
              .contains("KAGAMI-GUEST VERIFY OK")
              .doesNotContain("KAGAMI-GUEST VERIFY FAIL")
              .contains(probeLine + " UNREACHABLE")
              .doesNotContain(probeLine + " REACHED")
              .contains("KAGAMI-GUEST READY " + name);
        }
        assertThat(production.connections())
            .as("connections to production from the drill guests")
            .isEqualTo(2);
        List<Long> pids =
            GuestSites.runningPids(
                SiteProcess.JSON.readTree(
                    k.run(T, "recover", "status", "--json", "--admin", sites.admin).stdout()));
        assertThat(pids).hasSize(2);
        assertThat(sites.drExports())
            .as("dr's exports during the drill")
            .contains("tokyo.db-disk-drill", "osaka.app-disk-drill");

        Map<String, Long> appliedWhileBooted = applied(sites);

        // The drill guests write into their clones (guest-init's live writer), never the replicas.
        for (JsonNode s : List.of(db, app)) {
          Path console = Path.of(s.path("console").asText());
          GuestConsole c = new GuestConsole(s.path("name").asText());
          c.followFile(console);
          try {
            c.await(0, "KAGAMI-GUEST LIVE \\d+", BOOT, "its first write into its clone");
          } finally {
            c.stopFollowing();
          }
        }
        for (Primary p : sites.all()) {
          assertThat(guestRegion(sites, p.drVolume() + "-drill"))
              .as("%s's drill clone, written by its drill guest", p.drVolume())
              .isNotEqualTo(before.get(p.id()));
        }

        // Replication goes on: the writes made during the drill reach dr, and once the writers
        // stop the lag drains to nothing, all while the drill VMs run.
        writers.awaitMore(40, T);
        int lagWhileWriting = 0;
        for (Primary p : sites.all()) {
          JsonNode v = GuestSites.volume(p.site().status(), p.volume());
          lagWhileWriting = Math.max(lagWhileWriting, v.path("lagBytes").asInt());
        }
        Map<String, Long> appliedLater = applied(sites);
        for (Primary p : sites.all()) {
          assertThat(appliedLater.get(p.id()))
              .as("%s's volume on dr goes on being applied while the drill VMs run", p.id())
              .isGreaterThan(appliedWhileBooted.get(p.id()));
        }
        writers.stop();
        long drainFrom = SystemTime.NANO.nanoTime();
        for (Primary p : sites.all()) {
          long target = sites.awaitInSync(p);
          assertThat(target)
              .as("%s's writes made while the drill VMs ran, applied on dr", p.id())
              .isGreaterThan(appliedWhileBooted.get(p.id()));
        }
        double drained = SystemTime.NANO.nanosSince(drainFrom) / 1e9;
        for (long pid : pids) {
          assertThat(GuestSites.alive(pid)).as("drill QEMU pid %d after the drain", pid).isTrue();
        }
        System.out.printf(
            "RecoverGuestsIT: %d host writes during the drill; lag %d bytes while writing, 0 after %.2f s, drill VMs running%n",
            writers.acked(), lagWhileWriting, drained);

        // 4. recover stop leaves nothing behind; the replicas are their sources, byte for byte.
        ExternalTool.Result stop = k.run(T, "recover", "stop", "--admin", sites.admin);
        assertThat(stop.exitCode()).as(stop.describe()).isZero();
        assertDrillGone(sites, pids, portsBefore);
        assertReplicasUntouched(sites, before);
        for (JsonNode s : List.of(db, app)) {
          System.out.printf(
              "RecoverGuestsIT: drill %s %s%n", s.path("name").asText(), GuestSites.rtoLine(s));
        }
      }

      // 5. kill -9 of dr mid-drill: db's drill VM is booting; its QEMU outlives the site, and the
      // restarted site removes it and the clones.
      ExternalTool.Result again =
          k.run(T, "recover", "--all", "--drill", "--no-wait", "--json", "--admin", sites.admin);
      assertThat(again.exitCode()).as(again.describe()).isZero();
      String id = SiteProcess.JSON.readTree(again.stdout()).path("id").asText();
      Path dbConsole = sites.drData().resolve("recovery/runs/" + id + "/db-1.console");
      GuestConsole c = new GuestConsole("db-drill");
      c.followFile(dbConsole);
      try {
        c.await(0, "KAGAMI-GUEST BOOT", BOOT, "db's drill guest booting");
      } finally {
        c.stopFollowing();
      }
      List<Long> orphans =
          GuestSites.runningPids(
              SiteProcess.JSON.readTree(
                  k.run(T, "recover", "status", "--json", "--admin", sites.admin).stdout()));
      assertThat(orphans).as("db's drill VM").hasSize(1);
      sites.dr.kill9();
      for (long pid : orphans) {
        assertThat(GuestSites.alive(pid)).as("QEMU pid %d after kill -9 of dr", pid).isTrue();
      }
      sites.dr.start();
      assertDrillGone(sites, orphans, portsBefore);
      assertThat(Files.readString(sites.drData().resolve("recovery/reports/" + id + ".json")))
          .contains("\"result\" : \"aborted\"");
      assertThat(sites.dr.log()).contains("was left by a site that stopped without ending it");
      for (Primary p : sites.all()) {
        sites.dr.awaitStatus(
            s -> s.path("link").path("connected").asBoolean(), T, "the primaries reconnected");
        sites.awaitInSync(p);
      }
      assertReplicasUntouched(sites, before);

      // 6. The disaster: both primaries die, and the operator recovers both servers on the DR
      // host. Production is a bridge this test host lacks: the real recovery's servers get no NIC.
      Instant synced = SystemTime.WALL.instant();
      for (Primary p : sites.all()) {
        p.site().kill9();
      }
      Files.writeString(dir.resolve("recovery.yaml"), GuestSites.recoveryYaml(GUESTS, "", ""));
      recoverAll(sites, k, writing, synced);
    } finally {
      for (GuestVm vm : vms) {
        vm.close();
      }
    }
  }

  /**
   * {@code kagami recover --all} on dr after both primaries died: db then app healthy from their
   * replicas, data verified, RPO and RTO against the test's clock ({@code writing}: before the
   * first write; {@code synced}: after dr held the last one); then {@code recover stop}.
   */
  private static void recoverAll(GuestSites sites, ExternalTool k, Instant writing, Instant synced)
      throws Exception {
    ExternalTool.Result plan = k.run(T, "recover", "plan", "--admin", sites.admin);
    assertThat(plan.exitCode()).as(plan.describe()).isZero();
    Instant asked = SystemTime.WALL.instant();
    ExternalTool.Result run =
        k.run(BOOT.plus(BOOT), "recover", "--all", "--json", "--admin", sites.admin);
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
          .as("%s's point: a write journaled while the test wrote", name)
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
      System.out.printf(
          "RecoverGuestsIT: recovery %s %s (the RTO includes waiting for its dependencies)%n",
          name, GuestSites.rtoLine(s));
    }
    System.out.printf(
        "RecoverGuestsIT: kagami recover --all answered in %.1f s%n",
        Duration.between(asked, answered).toMillis() / 1000.0);
    // Each peer was promoted (its volume a writable export); dr itself stays a standby.
    JsonNode after = sites.dr.status();
    assertThat(after.path("role").asText()).isEqualTo("standby");
    for (Primary p : sites.all()) {
      JsonNode v = GuestSites.volume(after, p.drVolume());
      assertThat(v.path("role").asText()).as("%s's volume on dr", p.id()).isEqualTo("primary");
    }

    // recover stop leaves no QEMU process behind.
    sites.recoverStopLeavesNoVm(k, 2);
  }

  private static String guestRegion(GuestSites sites, String export)
      throws IOException, InterruptedException {
    return GuestSites.sha256(sites.drNbd, export, 0, GuestDisks.DISK_BYTES);
  }

  private static Map<String, Long> applied(GuestSites sites)
      throws IOException, InterruptedException {
    JsonNode st = sites.dr.status();
    Map<String, Long> out = new LinkedHashMap<>();
    for (Primary p : sites.all()) {
      out.put(p.id(), GuestSites.volume(st, p.drVolume()).path("lastAppliedSeq").asLong());
    }
    return out;
  }

  /** Each replica's guest region as before the drill, and the whole replica equal to its source. */
  private static void assertReplicasUntouched(GuestSites sites, Map<String, String> before)
      throws IOException, InterruptedException {
    for (Primary p : sites.all()) {
      assertThat(guestRegion(sites, p.drVolume()))
          .as("%s's guest region on dr, after the drill", p.drVolume())
          .isEqualTo(before.get(p.id()));
      assertThat(GuestSites.sha256(sites.drNbd, p.drVolume(), 0, GuestSites.VOLUME))
          .as("%s on dr, byte for byte against %s's volume", p.drVolume(), p.id())
          .isEqualTo(GuestSites.sha256(p.nbd(), p.volume(), 0, GuestSites.VOLUME));
    }
  }

  /** No QEMU process, clone, overlay, run state, export or listening port of the drill is left. */
  private static void assertDrillGone(GuestSites sites, List<Long> pids, Set<Integer> portsBefore)
      throws IOException, InterruptedException {
    for (long pid : pids) {
      assertThat(GuestSites.alive(pid)).as("QEMU pid %d after the drill ended", pid).isFalse();
    }
    for (JsonNode v : sites.dr.status().path("volumes")) {
      assertThat(v.path("drill").isNull() || v.path("drill").isMissingNode())
          .as("drill clone of %s: %s", v.path("name").asText(), v.path("drill"))
          .isTrue();
    }
    assertThat(sites.drillOverlays()).as("drill overlays").isEmpty();
    assertThat(sites.drData().resolve("recovery/state.json")).doesNotExist();
    assertThat(sites.drExports()).as("dr's exports").noneMatch(e -> e.endsWith("-drill"));
    assertThat(sites.drListeningPorts())
        .as("ports dr and its children listen on")
        .isEqualTo(portsBefore);
  }
}
