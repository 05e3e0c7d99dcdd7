package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import eu.rekawek.toxiproxy.model.ToxicDirection;
import io.kagami.clock.SystemTime;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.toxi.Toxiproxies;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A replaced standby (its disk wiped) gets a full copy of the volume; interrupted by a kill -9 of
 * the standby half-way, the copy resumes with the regions still missing instead of starting over.
 */
class InitialSyncIT {
  private static final long VOLUME = 64L << 20;
  private static final int REGIONS = (int) (VOLUME / (64 << 10));
  private static final Duration T = Duration.ofMinutes(2);
  @TempDir Path dir;

  @Test
  void aReplacedStandbyIsCopiedInFullAndAnInterruptedCopyResumes() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    Random rnd = new Random(seed);
    try (Toxiproxies toxi = Toxiproxies.start(seed)) {
      System.out.println("InitialSyncIT seed=" + seed + " " + toxi);
      try (TwoSites sites =
          TwoSites.throughProxy(dir, VOLUME, "bitmapGranularity: 64KiB", toxi).start()) {
        try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
          // Data in a third of the volume, so the copy has real regions and zero regions.
          for (int i = 0; i < 80; i++) {
            byte[] data = new byte[256 << 10];
            rnd.nextBytes(data);
            c.write((long) i * (768 << 10), data).get(30, TimeUnit.SECONDS);
          }
        }
        sites.awaitInSync(T);

        // The standby's disk is replaced: same identity and certificates, no journal, no volume.
        sites.standby.stop();
        deleteTree(dir.resolve("hiroshima/journal"));
        deleteTree(dir.resolve("hiroshima/volumes"));
        sites.wanProxy.toxics().bandwidth("slow", ToxicDirection.UPSTREAM, 3000);
        sites.standby.start();
        long total = VOLUME;
        com.fasterxml.jackson.databind.JsonNode underway =
            sites.primary.awaitStatus(
                s -> {
                  long left = TwoSites.vol0(s).path("resync").path("remainingBytes").asLong(total);
                  return left > 0 && left < total * 3 / 4;
                },
                T,
                "the full copy to be under way");
        assertThat(TwoSites.vol0(underway).path("state").asText()).isEqualTo("initial-sync");
        assertThat(TwoSites.vol0(underway).path("resync").path("totalBytes").asLong())
            .isEqualTo(total);
        assertThat(TwoSites.vol0(sites.standby.status()).path("state").asText())
            .isEqualTo("inconsistent");

        // Interrupted half-way: the standby dies.
        sites.standby.kill9();
        long leftAtKill =
            TwoSites.vol0(sites.primary.status()).path("resync").path("remainingBytes").asLong();
        toxi.removeToxics(sites.wanProxy);
        sites.standby.start();
        sites.awaitInSync(T);
        sites.standby.awaitStatus(
            s -> TwoSites.vol0(s).path("state").asText().equals("replicating"),
            T,
            "the standby to be consistent again");
        assertThat(TwoSites.vol0(sites.primary.status()).has("resync"))
            .as("no resync due any more")
            .isFalse();

        List<Long> passes = new ArrayList<>();
        Matcher m = Pattern.compile("resync of ([\\d,]+) regions").matcher(sites.primary.log());
        while (m.find()) {
          passes.add(Long.parseLong(m.group(1).replace(",", "")));
        }
        System.out.println(
            "InitialSyncIT: passes "
                + passes
                + " (regions), "
                + leftAtKill
                + " bytes left at the kill");
        assertThat(passes).as("a full pass, then a resumed one").hasSizeGreaterThanOrEqualTo(2);
        assertThat(passes.get(0)).isEqualTo(REGIONS);
        assertThat(passes.get(passes.size() - 1))
            .as("the resumed pass copies only what was missing")
            .isLessThan(REGIONS);

        sites.assertReplicaIdentical();
      }
    }
  }

  @Test
  void aStandbyThatLostItsJournalButKeptItsVolumeIsComparedNotCopied() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    Random rnd = new Random(seed);
    System.out.println("InitialSyncIT compare seed=" + seed);
    try (TwoSites sites =
        TwoSites.withVolumeOptions(dir, VOLUME, "bitmapGranularity: 64KiB").start()) {
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        for (int i = 0; i < 40; i++) {
          byte[] data = new byte[256 << 10];
          rnd.nextBytes(data);
          c.write((long) i * (1536 << 10), data).get(30, TimeUnit.SECONDS);
        }
        sites.awaitInSync(T);
        // The standby loses its journal (e.g. restored from a backup of the volume alone).
        sites.standby.stop();
        deleteTree(dir.resolve("hiroshima/journal"));
        // Meanwhile three regions change on the primary.
        for (int i = 0; i < 3; i++) {
          byte[] data = new byte[64 << 10];
          rnd.nextBytes(data);
          c.write((long) (200 + i * 7) * (64 << 10), data).get(30, TimeUnit.SECONDS);
        }
        sites.standby.start();
        sites.awaitInSync(T);
        sites.standby.awaitStatus(
            s -> TwoSites.vol0(s).path("state").asText().equals("replicating"),
            T,
            "the standby to be consistent again");
      }
      Matcher m =
          Pattern.compile("\\(([\\d,]+) compared by checksum, ([\\d,]+) with data")
              .matcher(sites.primary.log());
      assertThat(m.find()).as("the primary logged the compared pass").isTrue();
      long compared = Long.parseLong(m.group(1).replace(",", ""));
      long withData = Long.parseLong(m.group(2).replace(",", ""));
      System.out.println(
          "InitialSyncIT: compared "
              + compared
              + " regions by checksum, sent "
              + withData
              + " with data");
      assertThat(compared).as("every region holding data was compared").isGreaterThanOrEqualTo(160);
      assertThat(withData)
          .as("only the regions that changed meanwhile travel with data")
          .isEqualTo(3);
      sites.assertReplicaIdentical();
    }
  }

  private static void deleteTree(Path root) throws java.io.IOException {
    if (!Files.exists(root)) {
      return;
    }
    try (Stream<Path> all = Files.walk(root)) {
      for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
