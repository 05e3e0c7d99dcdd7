package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.clock.SystemTime;
import io.kagami.site.it.PromoteIT.Cli;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.tools.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Point-in-time failover ({@code docs/runbooks/failover.md}, {@code promote --seq}): the primary
 * writes a known sequence of versions, recording the seq after each step; the primary is lost;
 * {@code kagami promote --seq N} on the standby must serve exactly the state at N, including blocks
 * overwritten several times after N and blocks first written (or zeroed) after N.
 */
class PitrIT {
  private static final long VOLUME = 64L << 20;
  private static final int AREA = 4 << 20;
  private static final Duration T = Duration.ofMinutes(2);
  @TempDir Path dir;

  @Test
  void promotingToASeqInThePastServesExactlyTheStateAtThatSeq() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("PitrIT seed=" + seed + " (replay with -Dkagami.seed=" + seed + ")");
    Random rnd = new Random(seed);
    try (TwoSites sites = TwoSites.withVolumeOptions(dir, VOLUME, "retention: 1h").start()) {
      Steps steps = writeSteps(sites, rnd);
      List<byte[]> states = steps.states();
      List<Long> seqs = steps.seqs();
      int step = 2 + rnd.nextInt(4);
      long target = seqs.get(step);
      System.out.printf(
          "PitrIT: steps end at seqs %s; promoting to seq %d (after step %d)%n",
          seqs, target, step);
      JsonNode before = TwoSites.vol0(sites.standby.status());
      assertThat(before.path("recoverableFrom").path("seq").asLong())
          .as("recoverable window start")
          .isLessThanOrEqualTo(seqs.getFirst());

      sites.primary.kill9();
      String standbyAdmin = "127.0.0.1:" + sites.standbyAdmin;
      Cli outside =
          PromoteIT.cli(
              "promote", "--seq", Long.toString(seqs.getLast() + 10), "--admin", standbyAdmin);
      assertThat(outside.exit()).isNotZero();
      assertThat(outside.output()).contains("not applied yet");
      assertThat(sites.standby.status().path("role").asText())
          .as("a refused point-in-time promotion changes nothing")
          .isEqualTo("standby");

      Cli promoted =
          PromoteIT.cli("promote", "--seq", Long.toString(target), "--admin", standbyAdmin);
      assertThat(promoted.exit()).as(promoted.output()).isZero();
      assertThat(promoted.output()).contains("is now the primary").contains("from seq " + target);

      byte[] actual = promotedArea(sites);
      int at = Arrays.mismatch(actual, states.get(step));
      assertThat(at)
          .as(
              "promoted volume differs from the state at seq %d at offset 0x%x (state after step %d; the newest state would %s)",
              target,
              Math.max(at, 0),
              step,
              Arrays.equals(actual, states.getLast()) ? "match" : "not match either")
          .isEqualTo(-1);
      JsonNode after = TwoSites.vol0(sites.standby.status());
      assertThat(after.path("lastJournaledSeq").asLong())
          .as("new primary's history continues from the target")
          .isEqualTo(target);
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
        c.write(0, new byte[4096]).get(30, TimeUnit.SECONDS);
      }
      assertThat(TwoSites.vol0(sites.standby.status()).path("lastJournaledSeq").asLong())
          .isEqualTo(target + 1);
      assertThat(sites.standby.log())
          .contains("replica rolled back to seq " + target)
          .contains("new data generation");
    }
  }

  @Test
  void promotingToATimeInThePastServesTheStateOfTheLastWriteJournaledByThen() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("PitrIT --at seed=" + seed + " (replay with -Dkagami.seed=" + seed + ")");
    Random rnd = new Random(seed);
    try (TwoSites sites = TwoSites.withVolumeOptions(dir, VOLUME, "retention: 1h").start()) {
      Steps steps = writeSteps(sites, rnd);
      int step = 2 + rnd.nextInt(4);
      Instant at = steps.marks().get(step);
      System.out.printf(
          "PitrIT: promoting to %s (after step %d, seq %d)%n", at, step, steps.seqs().get(step));

      sites.primary.kill9();
      Cli promoted =
          PromoteIT.cli(
              "promote", "--at", at.toString(), "--admin", "127.0.0.1:" + sites.standbyAdmin);
      assertThat(promoted.exit()).as(promoted.output()).isZero();
      assertThat(promoted.output())
          .contains("is now the primary")
          .contains("from seq " + steps.seqs().get(step));

      byte[] actual = promotedArea(sites);
      int mismatch = Arrays.mismatch(actual, steps.states().get(step));
      assertThat(mismatch)
          .as(
              "promoted volume differs from the state at %s at offset 0x%x",
              at, Math.max(mismatch, 0))
          .isEqualTo(-1);
    }
  }

  /**
   * The first {@link #AREA} bytes the promoted standby serves, read with the real {@code nbdcopy}.
   */
  private byte[] promotedArea(TwoSites sites) throws Exception {
    Path img = dir.resolve("promoted.img");
    ExternalTool.require("nbdcopy").runOk(T, sites.standbyUri(), img.toString());
    byte[] actual = new byte[AREA];
    try (var in = Files.newInputStream(img)) {
      assertThat(in.readNBytes(actual, 0, AREA)).isEqualTo(AREA);
    }
    return actual;
  }

  /**
   * After each step: the model's state, the primary's last seq, and an instant between this step's
   * writes and the next's.
   */
  private record Steps(List<byte[]> states, List<Long> seqs, List<Instant> marks) {}

  /**
   * Eight steps of writes and zeroings (the first 16 blocks rewritten at every step), each flushed
   * and replicated before the next; the standby journals a step's writes before its mark and the
   * next step's after it (the mark is taken once the standby holds the step, and the next step
   * starts only once the clock has moved past the mark's millisecond).
   */
  private static Steps writeSteps(TwoSites sites, Random rnd) throws Exception {
    byte[] model = new byte[AREA];
    List<byte[]> states = new ArrayList<>();
    List<Long> seqs = new ArrayList<>();
    List<Instant> marks = new ArrayList<>();
    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
      for (int step = 0; step < 8; step++) {
        for (int i = 0; i < 40; i++) {
          int block = i < 16 ? i : 16 + rnd.nextInt(AREA / 4096 - 16);
          int len = 4096 * (1 + rnd.nextInt(4));
          int off = block * 4096;
          len = Math.min(len, AREA - off);
          if (rnd.nextInt(8) == 0 && i >= 16) {
            c.writeZeroes(off, len).get(30, TimeUnit.SECONDS);
            Arrays.fill(model, off, off + len, (byte) 0);
          } else {
            byte[] data = new byte[len];
            rnd.nextBytes(data);
            c.write(off, data).get(30, TimeUnit.SECONDS);
            System.arraycopy(data, 0, model, off, len);
          }
        }
        c.flush().get(30, TimeUnit.SECONDS);
        sites.awaitInSync(T);
        seqs.add(TwoSites.vol0(sites.primary.status()).path("lastJournaledSeq").asLong());
        states.add(model.clone());
        long mark = SystemTime.WALL.millis();
        marks.add(Instant.ofEpochMilli(mark));
        while (SystemTime.WALL.millis() <= mark) {
          Thread.onSpinWait(); // the journal stamps whole milliseconds: the next step starts in a
          // later one
        }
      }
    }
    return new Steps(states, seqs, marks);
  }
}
