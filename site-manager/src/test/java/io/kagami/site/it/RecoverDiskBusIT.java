package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kagami.site.it.guest.GuestConsole;
import io.kagami.site.it.guest.GuestDisks;
import io.kagami.testkit.tools.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server whose initramfs lacks virtio_blk (a "physical" server whose initramfs was built on
 * hardware without virtio), replicated to the DR site next to one that has it: {@code kagami
 * recover plan} reads each boot disk's replica, changing nothing, and warns about the first one on
 * {@code diskBus: virtio} before any boot (not on {@code sata}, and never about the other); {@code
 * kagami recover --drill} then boots it healthy on {@code sata} and, on {@code virtio}, it fails:
 * its initramfs never finds the root disk.
 *
 * <p>Real Linux guests from {@link GuestDisks} under TCG, one at a time (run under the guests'
 * flock).
 */
class RecoverDiskBusIT {
  private static final Duration T = Duration.ofMinutes(3);
  private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long VOLUME = GuestDisks.DISK_BYTES + (16L << 20);

  /** The healthy timeout for the legacy server on {@code BUS}. */
  private static final String RECOVERY =
      """
      defaults:
        vcpus: 1
        memory: 256MiB
        machine: q35
        timeouts: {healthy: HEALTHY, shutdown: 20s}
      servers:
        - name: legacy
          volumes: [legacy-disk]
          diskBus: BUS
          healthCheck: {console: "KAGAMI-GUEST READY legacy"}
        - name: db
          volumes: [db-disk]
          diskBus: virtio
          healthCheck: {console: "KAGAMI-GUEST READY db"}
      """;

  @TempDir Path dir;

  private static ExternalTool kagami() {
    return ExternalTool.of(ROOT.resolve("kagami"))
        .withEnv("KAGAMI_SKIP_BUILD", "1")
        .withEnv("KAGAMI_ADMIN", "");
  }

  @Test
  void thePlanWarnsAboutAGuestWithoutVirtioBlkOnVirtioAndItBootsOnlyOnSata() throws Exception {
    Path legacy = GuestDisks.build("legacy", GuestDisks.Variant.NOVIRTIO);
    Path db = GuestDisks.build("db", GuestDisks.Variant.VIRTIO);
    Path sitesDir = dir.resolve("sites");
    TwoSites pair =
        TwoSites.withVolumes(sitesDir, VOLUME, "retention: 10m", "legacy-disk", "db-disk");
    // This machine's /dev/kvm opens but aborts guests (QEMU exit 134): TCG, as every guest test.
    pair.standby.jvmOptions(List.of("-Dkagami.qemu.accel=tcg"));
    try (TwoSites sites = pair.start()) {
      GuestDisks.copyToNbd(legacy, sites.primaryUri("legacy-disk"));
      GuestDisks.copyToNbd(db, sites.primaryUri("db-disk"));
      sites.awaitInSync(T);
      String admin = "127.0.0.1:" + sites.standbyAdmin;
      ExternalTool k = kagami();
      Path yaml = sitesDir.resolve("recovery.yaml");

      // 1. The plan, before any boot: a warning for legacy on virtio, naming the server and key.
      Files.writeString(yaml, RECOVERY.replace("BUS", "virtio").replace("HEALTHY", "4m"));
      List<String> onVirtio = bootDriverWarnings(k, admin);
      System.out.printf("RecoverDiskBusIT: plan with legacy on virtio warns: %s%n", onVirtio);
      assertThat(onVirtio)
          .as("virtio_blk warnings of the plan with legacy on virtio")
          .hasSize(1)
          .allMatch(w -> w.startsWith("server \"legacy\": diskBus virtio, but its boot disk"))
          .allMatch(w -> w.contains("has no virtio_blk") && w.endsWith("use diskBus: sata"));
      Files.writeString(yaml, RECOVERY.replace("BUS", "sata").replace("HEALTHY", "6m"));
      assertThat(bootDriverWarnings(k, admin))
          .as("virtio_blk warnings of the plan with legacy on sata (db stays on virtio)")
          .isEmpty();
      assertThat(sites.standby.status().path("volumes").findValuesAsText("role"))
          .as("the plan changed nothing")
          .containsOnly("standby");

      // 2. On sata the legacy server boots healthy.
      JsonNode sata = drill(k, admin, 0);
      String sataConsole = Files.readString(Path.of(sata.path("console").asText()));
      assertThat(sataConsole).contains("KAGAMI-GUEST READY legacy");
      System.out.printf(
          "RecoverDiskBusIT: legacy on sata HEALTHY, RTO %d ms%n", sata.path("rtoMillis").asLong());
      stop(k, admin);

      // 3. On virtio it fails: its initramfs never finds the root disk.
      Files.writeString(yaml, RECOVERY.replace("BUS", "virtio").replace("HEALTHY", "4m"));
      JsonNode virtio = drill(k, admin, 1);
      String virtioConsole = Files.readString(Path.of(virtio.path("console").asText()));
      assertThat(Pattern.compile(GuestConsole.ROOT_NOT_FOUND).matcher(virtioConsole).find())
          .as("legacy's console on virtio says its root was not found:\n%s", virtioConsole)
          .isTrue();
      assertThat(virtioConsole).doesNotContain("KAGAMI-GUEST BOOT").doesNotContain("READY legacy");
      // The orchestrator read the same on the console and failed the boot then, not at the 4 min
      // health timeout (recovery.yaml's default bootFailure lines).
      assertThat(virtio.path("reason").asText())
          .as("legacy's failure on virtio")
          .matches(
              "its console says the boot failed: \".*(" + GuestConsole.ROOT_NOT_FOUND + ").*\"");
      System.out.printf(
          "RecoverDiskBusIT: legacy on virtio %s: %s%n",
          virtio.path("result").asText(), virtio.path("reason").asText());
      stop(k, admin);
    }
  }

  /** The plan's warnings that are about the virtio block driver (the plan must be ok). */
  private static List<String> bootDriverWarnings(ExternalTool k, String admin) throws Exception {
    ExternalTool.Result plan = k.run(T, "recover", "plan", "--json", "--admin", admin);
    assertThat(plan.exitCode()).as(plan.describe()).isZero();
    List<String> out = new ArrayList<>();
    for (JsonNode w : JSON.readTree(plan.stdout()).path("warnings")) {
      if (w.asText().contains("virtio_blk")) {
        out.add(w.asText());
      }
    }
    return out;
  }

  /** A drill of legacy alone; its report's server entry, the run exiting {@code exit}. */
  private static JsonNode drill(ExternalTool k, String admin, int exit) throws Exception {
    ExternalTool.Result run =
        k.run(
            Duration.ofMinutes(10),
            "recover",
            "--server",
            "legacy",
            "--drill",
            "--json",
            "--admin",
            admin);
    assertThat(run.exitCode()).as(run.describe()).isEqualTo(exit);
    JsonNode report = JSON.readTree(run.stdout());
    JsonNode s = report.path("servers").get(0);
    assertThat(s.path("name").asText()).isEqualTo("legacy");
    assertThat(s.path("result").asText())
        .as(report.toString())
        .isEqualTo(exit == 0 ? "HEALTHY" : "FAILED");
    return s;
  }

  private static void stop(ExternalTool k, String admin) throws Exception {
    ExternalTool.Result stop = k.run(T, "recover", "stop", "--admin", admin);
    assertThat(stop.exitCode()).as(stop.describe()).isZero();
  }
}
