package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.clock.SystemTime;
import io.kagami.site.it.GuestSites.Primary;
import io.kagami.site.it.guest.GuestConsole;
import io.kagami.site.it.guest.GuestDisks;
import io.kagami.site.it.guest.GuestVm;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.tools.ExternalTool;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance e and h of issue 14 with a real Linux guest: point-in-time recovery past a
 * "ransomware" overwrite, and the report's RPO and RTO against the test's own clock.
 *
 * <p>The server {@code db} lives on primary {@code tokyo}, replicating into {@code dr}. It boots on
 * its primary and writes its files with their checksum manifest ({@code LIVE_ROUNDS=0}: then it
 * stays quiet), and syncs. The test then makes the last acknowledged write before the chosen time
 * itself (a 4 KiB marker from the host, into the part of the volume no guest uses), waits until dr
 * holds it and takes T. After T the guest plays ransomware: it overwrites every data file in place
 * and checks that the manifest no longer matches ({@code RANSOMED}); that reaches dr too, and the
 * primary dies (kill -9). {@code kagami recover --server db --at T} then boots db from the state
 * before the overwrite, and the guest verifies every manifest entry ({@code VERIFY OK}, as many as
 * it wrote). Recovering the newest point instead would boot the overwritten files and fail the
 * verification, so the test fails if the point in time is not honoured.
 *
 * <p>h: the test records when the marker write was sent and acknowledged, T, when it asked for the
 * recovery and got the answer, and when it saw the guest's health marker on the console (it follows
 * the console file; Kagami watches the same file). The report's point must lie between the marker
 * and T (by sequence number and by time), its RPO between those bounds taken from the request, its
 * health pass within a second of the test's own sighting, its RTO within the test's bounds, and the
 * RTO's parts (promotion, export, VM start, boot, health) must add up to it. Prints the figures.
 */
class RecoverGuestsPointInTimeIT {
  private static final Duration T = GuestSites.T;

  /** One TCG boot on a loaded 2-CPU machine: minutes. */
  private static final Duration BOOT = Duration.ofMinutes(6);

  /** How far apart two observers of the same console line may see it (test: 200 ms polls). */
  private static final long SIGHTING_MILLIS = 1000;

  private static final Map<String, String> GUESTS = Map.of("tokyo", "db");

  private static final String RECOVERY = GuestSites.recoveryYaml(GUESTS, "", "");

  @TempDir Path dir;

  @Test
  void
      recoverAtATimeBeforeARansomwareOverwriteBootsTheVerifiedDataWithRpoAndRtoWithinTheTestsClock()
          throws Exception {
    try (GuestSites sites = GuestSites.create(dir, GUESTS, RECOVERY)) {
      sites.start();
      Primary p = sites.primary("tokyo");
      Path disk =
          GuestDisks.withConfig(
              GuestDisks.build("db", GuestDisks.Variant.VIRTIO),
              dir.resolve("db.raw"),
              "LIVE_ROUNDS=0\n");
      GuestDisks.copyToNbd(disk, p.uri());
      Files.delete(disk);

      // 1. The server writes its data and manifest on its primary, then goes quiet.
      int wrote;
      long markerSeq;
      Instant markerSent;
      Instant markerAcked;
      Instant t;
      long ransomSeq;
      try (GuestVm vm =
          GuestVm.boot(
              new GuestVm.Spec("db", dir.resolve("vm-tokyo"), p.uri(), GuestVm.Bus.VIRTIO))) {
        String line = vm.await(GuestConsole.WROTE, BOOT, "first boot's files and manifest");
        wrote = Integer.parseInt(line.substring(line.lastIndexOf(' ') + 1));
        vm.await(GuestConsole.READY, BOOT, "db ready on its primary");
        int mark = vm.console().mark();
        vm.send("sync");
        vm.console().await(mark, "KAGAMI-GUEST SYNCED", T, "the guest's sync");

        // 2. The last acknowledged write before T: the test's own marker.
        byte[] marker = new byte[4096];
        Arrays.fill(marker, (byte) 'M');
        try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", p.nbd(), p.volume())) {
          markerSent = SystemTime.WALL.instant();
          c.write(GuestSites.SPARE_OFFSET, marker).get(1, TimeUnit.MINUTES);
          c.flush().get(1, TimeUnit.MINUTES);
          markerAcked = SystemTime.WALL.instant();
        }
        sites.awaitInSync(p);
        // The marker's write: verification points (on by default) may follow it in the journal,
        // and a recovery's point is the last write before T, never a point.
        markerSeq = GuestSites.volume(p.site().status(), p.volume()).path("lastWriteSeq").asLong();
        t = SystemTime.WALL.instant();

        // 3. Ransomware, after T: every data file overwritten in place (the guest checks that its
        // manifest no longer matches); then the primary dies.
        mark = vm.console().mark();
        vm.send("ransom");
        String ransomed = vm.console().await(mark, "KAGAMI-GUEST RANSOM", T, "the overwrite");
        assertThat(ransomed).isEqualTo("KAGAMI-GUEST RANSOMED " + wrote);
        vm.powerOff(Duration.ofMinutes(3));
      }
      ransomSeq = sites.awaitInSync(p);
      assertThat(ransomSeq).as("the overwrite's writes").isGreaterThan(markerSeq);
      p.site().kill9();

      // 4. Recover db at T; follow its console as Kagami does.
      ExternalTool k = GuestSites.kagami();
      Instant asked = SystemTime.WALL.instant();
      ExternalTool.Result run =
          k.run(
              T,
              "recover",
              "--server",
              "db",
              "--at",
              t.toString(),
              "--no-wait",
              "--json",
              "--admin",
              sites.admin);
      Instant answered = SystemTime.WALL.instant();
      assertThat(run.exitCode()).as(run.describe()).isZero();
      String id = SiteProcess.JSON.readTree(run.stdout()).path("id").asText();
      GuestConsole console = new GuestConsole("db-recovered");
      console.followFile(sites.drData().resolve("recovery/runs/" + id + "/db-1.console"));
      String verified;
      Instant readySeen;
      try {
        verified = console.await(0, GuestConsole.VERIFIED, BOOT, "db verifying its data");
        console.await(0, GuestConsole.READY, BOOT, "db's health marker");
        readySeen = SystemTime.WALL.instant();
      } finally {
        console.stopFollowing();
      }
      assertThat(verified)
          .as("the recovered db, at T: before the overwrite")
          .isEqualTo("KAGAMI-GUEST VERIFY OK " + wrote);
      JsonNode report = sites.awaitReport(id, T);
      assertThat(report.path("result").asText()).as(report.toString()).isEqualTo("ok");
      assertThat(report.path("kind").asText()).isEqualTo("recovery");
      JsonNode db = GuestSites.server(report, "db");
      assertThat(db.path("result").asText()).isEqualTo("HEALTHY");

      // 5. h: the report against the test's clock.
      long seq = db.path("point").path("seq").asLong();
      assertThat(seq)
          .as("the point: at or after the marker (the last write before T), before the overwrite")
          .isGreaterThanOrEqualTo(markerSeq)
          .isLessThan(ransomSeq);
      Instant pointTime = Instant.parse(db.path("point").path("time").asText());
      assertThat(pointTime).isBetween(markerSent, t);
      Instant requestedAt = Instant.parse(report.path("requestedAt").asText());
      assertThat(requestedAt).isBetween(asked, answered);
      long rpo = db.path("rpoMillis").asLong();
      assertThat(rpo)
          .isEqualTo(Duration.between(pointTime, requestedAt).toMillis())
          .as("RPO: from the last write before T to the request, by the test's clock")
          .isBetween(
              Duration.between(t, asked).toMillis(),
              Duration.between(markerSent, answered).toMillis());
      Instant healthyAt = Instant.parse(db.path("healthyAt").asText());
      assertThat(healthyAt)
          .as("the health pass, against the test's sighting of the same console line")
          .isBetween(readySeen.minusMillis(SIGHTING_MILLIS), readySeen.plusMillis(SIGHTING_MILLIS));
      Instant bootStartedAt = Instant.parse(db.path("bootStartedAt").asText());
      assertThat(bootStartedAt).isBetween(requestedAt, healthyAt);
      long rto = db.path("rtoMillis").asLong();
      assertThat(rto)
          .as("RTO: from the request to the health pass, by the test's clock")
          .isBetween(
              Duration.between(answered, readySeen).toMillis() - SIGHTING_MILLIS,
              Duration.between(asked, readySeen).toMillis() + SIGHTING_MILLIS);
      JsonNode parts = db.path("rto");
      long sum = 0;
      for (String part :
          List.of("prepareMillis", "exportMillis", "vmStartMillis", "bootMillis", "healthMillis")) {
        assertThat(parts.path(part).isNumber()).as("RTO part %s in %s", part, parts).isTrue();
        assertThat(parts.path(part).asLong()).as(part).isNotNegative();
        sum += parts.path(part).asLong();
      }
      assertThat(sum)
          .as("the RTO's parts (db waits for no other server) add up to it, within scheduling")
          .isBetween(rto - 2000, rto);
      System.out.printf(
          "RecoverGuestsPointInTimeIT: marker acked %s, T %s, asked %s; point seq %d (marker %d, overwrite up to %d) written %s; RPO %d ms%n",
          markerAcked, t, asked, seq, markerSeq, ransomSeq, pointTime, rpo);
      System.out.printf(
          "RecoverGuestsPointInTimeIT: RTO %d ms = promote %d + export %d + vm start %d + boot %d + health %d ms; the test saw READY %d ms after asking%n",
          rto,
          parts.path("prepareMillis").asLong(),
          parts.path("exportMillis").asLong(),
          parts.path("vmStartMillis").asLong(),
          parts.path("bootMillis").asLong(),
          parts.path("healthMillis").asLong(),
          Duration.between(asked, readySeen).toMillis());
      assertThat(GuestSites.volume(sites.dr.status(), p.drVolume()).path("role").asText())
          .as("tokyo's volume on dr, promoted")
          .isEqualTo("primary");

      sites.recoverStopLeavesNoVm(k, 1);
      assertThat(new String(marker(sites), StandardCharsets.US_ASCII)).startsWith("MMMM");
    }
  }

  /** The marker as the promoted volume holds it: the point includes the last write before T. */
  private static byte[] marker(GuestSites sites) throws Exception {
    try (NbdTestClient c =
        NbdTestClient.connect("127.0.0.1", sites.drNbd, sites.primary("tokyo").drVolume())) {
      return c.read(GuestSites.SPARE_OFFSET, 4096).get(1, TimeUnit.MINUTES);
    }
  }
}
