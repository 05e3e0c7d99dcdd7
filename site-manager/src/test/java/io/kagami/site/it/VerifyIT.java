package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.clock.SystemTime;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.tools.ExternalTool;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * In-stream verification with real sites (issue 17, acceptance a): a bit flipped behind Kagami's
 * back in the standby's replica file, while both sites run and the host writes, is found by the
 * running verification within one pass, reported (status, metric, log line with region and seq),
 * copied again, and the replica ends byte-identical; and a mixed random-write run with verification
 * at full rate reports no mismatch at all ({@code -Dkagami.verify.soakSeconds=600} for the
 * 10-minute run; 30 by default, to keep the suite within its time).
 */
class VerifyIT {
  private static final long VOLUME = 64L << 20;
  private static final Duration T = Duration.ofMinutes(2);
  @TempDir Path dir;

  @Test
  void aBitFlippedInTheReplicaIsFoundReportedRepairedAndTheReplicaEndsIdentical() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("VerifyIT seed=" + seed + " (replay with -Dkagami.seed=" + seed + ")");
    Random rnd = new Random(seed);
    try (TwoSites sites = sitesVerifyingAt("32MiB/s")) {
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        // Data everywhere, so the flipped bit lands in written data.
        for (long off = 0; off < VOLUME; off += 1 << 20) {
          byte[] b = new byte[1 << 20];
          rnd.nextBytes(b);
          c.write(off, b).get(30, TimeUnit.SECONDS);
        }
        sites.awaitInSync(T);
        JsonNode firstPass =
            sites.standby.awaitStatus(
                s -> verify(s).has("lastPassSeq"), T, "a first complete verification pass");
        System.out.println("VerifyIT: first pass " + verify(firstPass));
        assertThat(verify(firstPass).path("mismatches").asLong()).isZero();

        // Host writes go on in the first half while the bit flips in the second.
        long flipAt = VOLUME / 2 + rnd.nextLong(VOLUME / 2);
        CompletableFuture<Void> writes = writeFirstHalf(c, rnd, 200);
        Path replica = sites.dir.resolve("hiroshima/volumes/vol0.img");
        long flipped = SystemTime.NANO.nanoTime();
        flipBit(replica, flipAt);
        JsonNode found =
            sites.standby.awaitStatus(
                s -> verify(s).path("mismatches").asLong() >= 1,
                T,
                "verification to find the bit flipped at byte " + flipAt);
        double detectSeconds = SystemTime.NANO.nanosSince(flipped) / 1e9;
        System.out.printf(
            "VerifyIT: bit flipped at byte %d found after %.2f s (a pass over %d MiB at 32 MiB/s"
                + " takes %.1f s): %s%n",
            flipAt, detectSeconds, VOLUME >> 20, (VOLUME >> 20) / 32.0, verify(found));
        assertThat(detectSeconds)
            .as("found within one pass (plus a housekeeping tick)")
            .isLessThan((VOLUME >> 20) / 32.0 + 3);
        long region = flipAt / (1 << 20) * (1 << 20);
        assertThat(verify(found).path("lastMismatch").asText())
            .as("status names the region")
            .startsWith("region " + region + "+1048576 differed at seq ");
        writes.get(2, TimeUnit.MINUTES);

        // Reported: metric and log line with region and seq.
        assertThat(sites.standby.metrics())
            .containsPattern("kagami_verify_mismatches_total\\{[^}]*volume=\"vol0\"[^}]*\\} [1-9]");
        Matcher line =
            Pattern.compile(
                    "volume vol0: ALERT verification mismatch: region "
                        + region
                        + "\\+1048576 \\(bytes \\d+\\.\\.\\d+\\) differs from the primary's at seq"
                        + " (\\d+)")
                .matcher(sites.standby.log());
        assertThat(line.find()).as("the log line; log:\n%s", sites.standby.log()).isTrue();

        // Repaired: consistent again, nothing pending, a later pass proves it.
        long mismatchSeq = Long.parseLong(line.group(1));
        JsonNode repaired =
            sites.standby.awaitStatus(
                s ->
                    TwoSites.vol0(s).path("state").asText().equals("replicating")
                        && !verify(s).has("repairPending")
                        && verify(s).path("lastPassSeq").asLong() > mismatchSeq,
                T,
                "the region copied again and a complete pass after it");
        System.out.println("VerifyIT: repaired, " + verify(repaired));
        assertThat(sites.primary.log()).contains("diverged range(s)");
      }
      sites.awaitInSync(T);
      sites.assertReplicaIdentical();
    }
  }

  @Test
  @Timeout(value = 30, unit = TimeUnit.MINUTES)
  void mixedRandomWritesWithVerificationAtFullRateReportNoMismatch() throws Exception {
    long seconds = Long.getLong("kagami.verify.soakSeconds", 30);
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println(
        "VerifyIT soak seed="
            + seed
            + ", "
            + seconds
            + " s (replay with -Dkagami.seed="
            + seed
            + ")");
    Random rnd = new Random(seed);
    try (TwoSites sites = sitesVerifyingAt("4GiB/s")) {
      long writes = 0;
      long bytes = 0;
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        long end = SystemTime.NANO.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        List<CompletableFuture<Void>> inFlight = new ArrayList<>();
        while (SystemTime.NANO.nanoTime() < end) {
          int len = (1 + rnd.nextInt(rnd.nextInt(8) == 0 ? 256 : 8)) * 4096;
          long off = (long) rnd.nextInt((int) ((VOLUME - len) / 4096)) * 4096;
          if (rnd.nextInt(20) == 0) {
            inFlight.add(c.trim(off, len));
          } else {
            byte[] b = new byte[len];
            if (rnd.nextBoolean()) {
              rnd.nextBytes(b);
            } else {
              java.util.Arrays.fill(b, (byte) rnd.nextInt(4));
            }
            inFlight.add(c.write(off, b));
          }
          writes++;
          bytes += len;
          if (inFlight.size() == 16) {
            CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new))
                .get(60, TimeUnit.SECONDS);
            inFlight.clear();
          }
        }
        CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new))
            .get(60, TimeUnit.SECONDS);
      }
      // A long run on a busy machine can leave the standby's applier minutes behind: it catches
      // up within the run's own length.
      sites.awaitInSync(Duration.ofSeconds(Math.max(T.toSeconds(), seconds)));
      JsonNode last =
          sites.standby.awaitStatus(
              s -> verify(s).has("lastPassSeq"), T, "a complete verification pass");
      JsonNode v = verify(last);
      System.out.printf(
          "VerifyIT soak: %d s, %d writes/trims (%d MiB), %d regions (%d MiB) verified, last pass"
              + " %s at seq %s, mismatches %d%n",
          seconds,
          writes,
          bytes >> 20,
          v.path("regionsChecked").asLong(),
          v.path("bytesChecked").asLong() >> 20,
          v.path("lastPass").asText(),
          v.path("lastPassSeq").asText(),
          v.path("mismatches").asLong());
      assertThat(v.path("mismatches").asLong()).as("mismatches under racing writes").isZero();
      assertThat(v.path("bytesChecked").asLong())
          .as("verification ran all along: at least a pass every few seconds")
          .isGreaterThan(VOLUME * Math.max(1, seconds / 10));
      assertThat(sites.standby.log()).doesNotContain("verification mismatch");
      sites.assertReplicaIdentical();
    }
  }

  @Test
  void withTheRateOffAPassRunsOnlyOnDemand() throws Exception {
    ExternalTool k =
        ExternalTool.of(Path.of("").toAbsolutePath().getParent().resolve("kagami"))
            .withEnv("KAGAMI_SKIP_BUILD", "1")
            .withEnv("KAGAMI_ADMIN", "");
    try (TwoSites sites = sitesVerifyingAt("off")) {
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        writeFirstHalf(c, new Random(1), 64).get(60, TimeUnit.SECONDS);
      }
      sites.awaitInSync(T);
      assertThat(verify(sites.standby.status()).path("regionsChecked").asLong())
          .as("no point placed while verify.rate is off")
          .isZero();
      String primary = "127.0.0.1:" + sites.primaryAdmin;
      String standby = "127.0.0.1:" + sites.standbyAdmin;

      ExternalTool.Result started =
          k.run(T, "verify", "--volume", "vol0", "--json", "--admin", primary);
      assertThat(started.exitCode()).as(started.describe()).isZero();
      JsonNode answer =
          new com.fasterxml.jackson.databind.ObjectMapper().readTree(started.stdout());
      assertThat(answer.path("volume").asText()).isEqualTo("vol0");
      assertThat(answer.path("pass").asLong()).as("the first pass").isEqualTo(1);
      JsonNode done =
          sites.standby.awaitStatus(
              s -> verify(s).has("lastPassSeq"), T, "the pass started by kagami verify");
      assertThat(verify(done).path("mismatches").asLong()).isZero();
      assertThat(verify(done).path("bytesChecked").asLong())
          .as("one pass, then nothing more")
          .isEqualTo(VOLUME);

      ExternalTool.Result onStandby =
          k.run(T, "verify", "--volume", "vol0", "--json", "--admin", standby);
      assertThat(onStandby.exitCode()).as(onStandby.describe()).isEqualTo(3);
      assertThat(onStandby.stdout()).contains("start the pass on its primary");
      ExternalTool.Result unknown = k.run(T, "verify", "--volume", "nope", "--admin", primary);
      assertThat(unknown.exitCode()).as(unknown.describe()).isEqualTo(3);
      assertThat(unknown.stderr()).contains("there is no volume nope");
    }
  }

  private TwoSites sitesVerifyingAt(String rate) throws Exception {
    TwoSites sites = new TwoSites(dir, VOLUME);
    Files.writeString(
        dir.resolve("tokyo.yaml"), "verify: {rate: " + rate + "}\n", StandardOpenOption.APPEND);
    return sites.start();
  }

  private static JsonNode verify(JsonNode status) {
    return TwoSites.vol0(status).path("verify");
  }

  private static CompletableFuture<Void> writeFirstHalf(NbdTestClient c, Random rnd, int n) {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] b = new byte[64 << 10];
      rnd.nextBytes(b);
      long off = (long) rnd.nextInt((int) (VOLUME / 2 / (64 << 10))) * (64 << 10);
      all.add(c.write(off, b));
    }
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new));
  }

  /** Flips one bit of the replica file directly, as a failing disk would. */
  private static void flipBit(Path file, long at) throws Exception {
    try (FileChannel ch =
        FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.allocate(1);
      ch.read(b, at);
      b.flip();
      byte flipped = (byte) (b.get(0) ^ 0x10);
      ch.write(ByteBuffer.wrap(new byte[] {flipped}), at);
      ch.force(false);
    }
  }
}
