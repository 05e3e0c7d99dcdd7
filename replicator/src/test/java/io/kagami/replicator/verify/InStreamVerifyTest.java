package io.kagami.replicator.verify;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalStream;
import io.kagami.journal.VerifyPoint;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.history.History;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.replicator.volume.PrimaryVolume;
import io.netty.buffer.Unpooled;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The ordering that makes verification free of false positives: host writes race verification
 * points on the primary (many in flight, from another thread, over the regions being checked); the
 * history is shipped to a standby journal and applied in cuts of random length, with and without
 * before-image history. Every point must match. A byte that differs on the replica must be reported
 * at every point that covers it, with its region, and nowhere else.
 */
class InStreamVerifyTest {
  private static final int SIZE = 1 << 20;
  private static final int REGION = 64 << 10;

  @TempDir Path dir;
  private final ExecutorService reads = Executors.newSingleThreadExecutor();
  private final ExecutorService writer = Executors.newSingleThreadExecutor();

  @AfterEach
  void stop() {
    reads.shutdownNow();
    writer.shutdownNow();
  }

  @ParameterizedTest(name = "before-image history {0}")
  @ValueSource(booleans = {false, true})
  void writesRacingTheCheckNeverShowAsAMismatch(boolean withHistory) throws Exception {
    Run run = run(withHistory, SIZE, -1);
    assertThat(run.mismatches).as("mismatches reported under racing writes").isEmpty();
    assertThat(run.snapshot.regionsChecked()).isEqualTo(run.points);
    assertThat(run.snapshot.mismatches()).isZero();
    assertThat(run.snapshot.lastPassNumber())
        .as("the last of several complete passes is shown")
        .isEqualTo(run.passes);
    assertThat(run.snapshot.lastPassSeq()).isPositive();
  }

  @ParameterizedTest(name = "before-image history {0}")
  @ValueSource(booleans = {false, true})
  void aByteThatDiffersIsReportedAtEveryPointThatCoversIt(boolean withHistory) throws Exception {
    // Writes land in the first half only; the flipped byte lies in the second.
    long flipped = SIZE * 3L / 4 + 123;
    Run run = run(withHistory, SIZE / 2, flipped);
    long region = flipped / REGION * REGION;
    assertThat(run.mismatches)
        .as("a mismatch at each pass's point over the flipped byte")
        .hasSize(run.passes)
        .allSatisfy(
            m -> {
              assertThat(m.offset()).isEqualTo(region);
              assertThat(m.length()).isEqualTo(REGION);
              assertThat(m.primarySum()).isNotEqualTo(m.replicaSum());
            });
    assertThat(run.snapshot.mismatches()).isEqualTo(run.passes);
    assertThat(run.snapshot.lastPassNumber())
        .as("no pass over a differing replica completes")
        .isZero();
  }

  private record Run(
      List<ReplicaVerifier.Mismatch> mismatches,
      ReplicaVerifier.Snapshot snapshot,
      int points,
      int passes) {}

  private Run run(boolean withHistory, int writeSpan, long flipAt) throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println(
        "InStreamVerifyTest seed=" + seed + " (replay with -Dkagami.seed=" + seed + ")");
    Random rnd = new Random(seed);
    List<JournalEntry> history = new ArrayList<>();
    int points = 0;
    int passes = 3;
    try (Journal journal = Journal.open(JournalConfig.at(dir.resolve("primary")), SystemTime.WALL);
        FileVolume file = FileVolume.openOrCreate(dir.resolve("primary.img"), SIZE)) {
      JournalStream stream = journal.stream("vol0");
      PrimaryVolume primary = new PrimaryVolume("vol0", file, stream, true, reads);
      // Host writes from another thread, many in flight, while points are placed here.
      Random wr = new Random(seed + 1);
      CompletableFuture<Void> writes =
          CompletableFuture.runAsync(
              () -> {
                List<CompletableFuture<Void>> inFlight = new ArrayList<>();
                for (int i = 0; i < 3000; i++) {
                  int len = (1 + wr.nextInt(16)) * 4096;
                  int off = wr.nextInt((writeSpan - len) / 4096 + 1) * 4096;
                  byte[] b = new byte[len];
                  wr.nextBytes(b);
                  inFlight.add(primary.write(off, Unpooled.wrappedBuffer(b), false));
                }
                CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new)).join();
              },
              writer);
      List<CompletableFuture<VerifyPoint.Sum>> sums = new ArrayList<>();
      for (int pass = 1; pass <= passes; pass++) {
        for (long off = 0; off < SIZE; off += REGION) {
          sums.add(primary.verify(new VerifyPoint.Mark(off, REGION, pass, off + REGION >= SIZE)));
          points++;
        }
      }
      writes.get(60, TimeUnit.SECONDS);
      for (CompletableFuture<VerifyPoint.Sum> s : sums) {
        assertThat(s.get(30, TimeUnit.SECONDS))
            .as("the primary took every point's checksum")
            .isNotNull();
      }
      primary.appliedThrough(stream.lastSeq()).get(30, TimeUnit.SECONDS);
      for (long from = 1; from <= stream.lastSeq(); ) {
        List<JournalEntry> got = stream.read(from, 8 << 20);
        history.addAll(got);
        from = got.getLast().seq() + 1;
      }
    }

    List<ReplicaVerifier.Mismatch> mismatches = new ArrayList<>();
    try (Journal journal = Journal.open(JournalConfig.at(dir.resolve("standby")), SystemTime.WALL);
        FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica.img"), SIZE)) {
      JournalStream stream = journal.stream("vol0");
      History undo =
          withHistory
              ? new History(
                  "vol0",
                  dir.resolve("undo"),
                  new History.Retention(Duration.ofHours(1), 0),
                  SystemTime.WALL,
                  8 << 20,
                  0)
              : null;
      Applier applier =
          new Applier("vol0", stream, replica, SystemTime.WALL, Duration.ofHours(1), false, undo);
      ReplicaVerifier verifier =
          new ReplicaVerifier(
              "vol0", stream.lastSeq(), () -> true, SystemTime.WALL, mismatches::add);
      applier.verifyWith(verifier);
      if (flipAt >= 0) {
        replica.write(flipAt, ByteBuffer.wrap(new byte[] {(byte) 0x5a}));
      }
      for (int i = 0; i < history.size(); ) {
        int n = Math.min(history.size() - i, 1 + rnd.nextInt(200));
        stream.appendReplicated(history.subList(i, i + n)).get(30, TimeUnit.SECONDS);
        i += n;
        while (applier.doWork(1 + rnd.nextInt(300)) > 0) {
          // apply in random cuts
        }
      }
      assertThat(applier.appliedSeq()).isEqualTo(history.getLast().seq());
      if (undo != null) {
        undo.close();
      }
      return new Run(mismatches, verifier.snapshot(), points, passes);
    }
  }

  @Test
  void pointsWithoutTheirSumAreBounded() throws Exception {
    try (Journal journal = Journal.open(JournalConfig.at(dir.resolve("j")), SystemTime.WALL);
        FileVolume replica = FileVolume.openOrCreate(dir.resolve("r.img"), SIZE)) {
      ReplicaVerifier v = new ReplicaVerifier("vol0", 0, () -> true, SystemTime.WALL, m -> {});
      for (long seq = 1; seq <= ReplicaVerifier.MAX_PENDING + 50; seq++) {
        v.applied(seq, new VerifyPoint.Mark(0, 4096, 1, false).record(), replica);
      }
      assertThat(v.pending()).isEqualTo(ReplicaVerifier.MAX_PENDING);
      assertThat(journal).isNotNull();
    }
  }
}
