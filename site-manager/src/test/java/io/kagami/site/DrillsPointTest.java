package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.journal.Compression;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalStream;
import io.kagami.journal.VerifyPoint;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.history.History;
import io.kagami.replicator.nbd.InFlightShare;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.site.config.HostPort;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A drill and a recovery of a standby volume that received only verification points after its last
 * write show that write as their point (its seq; its time is the history's, see {@code
 * ApplierNewestWriteTest}), with or without retention: what {@code drill start}, {@code drill
 * status} and the recovery report give, and what {@code recover} measures its RPO from.
 */
class DrillsPointTest {
  private static final long SIZE = 4L << 20;
  @TempDir Path dir;
  private final AtomicLong now = new AtomicLong(1_000_000);
  private final InstantSource clock = () -> Instant.ofEpochMilli(now.get());

  @Test
  void aDrillAndARecoveryNowShowTheNewestWriteNotTheVerificationPointsAfterIt() throws Exception {
    try (Journal journal = Journal.open(JournalConfig.at(dir.resolve("journal")), clock);
        FileVolume kept = FileVolume.openOrCreate(dir.resolve("kept.img"), SIZE);
        FileVolume bare = FileVolume.openOrCreate(dir.resolve("bare.img"), SIZE);
        History keptHistory =
            new History(
                "kept",
                dir.resolve("undo-kept"),
                new History.Retention(Duration.ofHours(1), 0),
                clock,
                1 << 20,
                0);
        History bareHistory =
            new History(
                "bare", dir.resolve("undo-bare"), History.Retention.NONE, clock, 1 << 20, 0);
        Drills drills = new Drills(dir.resolve("data"), clock, Runnable::run);
        NbdExports nbd =
            new NbdExports(new HostPort("127.0.0.1", 0), List.of(), InFlightShare.unlimited())) {
      drills.attach(nbd);
      Applier keptApplier = replicate(journal.stream("kept"), kept, keptHistory);
      Applier bareApplier = replicate(journal.stream("bare"), bare, bareHistory);
      drills.track("kept", keptHistory, keptApplier, kept, () -> true);
      drills.track("bare", bareHistory, bareApplier, bare, () -> true);

      for (String v : List.of("kept", "bare")) {
        assertThat(drills.seqFor(v, null, null))
            .as("%s: a recovery's point now (the replica is applied through seq 9)", v)
            .isEqualTo(1);
        Drills.Started started = drills.start(v, null, null);
        assertThat(started.appliedSeq()).isEqualTo(9);
        assertThat(started.seq()).as("%s: drill start's seq", v).isEqualTo(1);
        assertThat(drills.drill(v, "127.0.0.1", 10809).seq())
            .as("%s: drill status's seq", v)
            .isEqualTo(1);
        drills.stop(v);
      }
      assertThat(drills.seqFor("kept", null, Instant.ofEpochMilli(1_060_500)))
          .as("a recovery --at a time after the points")
          .isEqualTo(1);
      assertThat(keptHistory.timeOf(drills.seqFor("kept", null, null)))
          .as("the time a recovery report gives its point")
          .isEqualTo(Instant.ofEpochMilli(1_000_000));
    }
  }

  /** Seq 1: a host write at 1_000_000; seqs 2..9: verification points a minute later. */
  private Applier replicate(JournalStream stream, FileVolume replica, History history)
      throws Exception {
    now.set(1_000_000);
    Applier applier =
        new Applier(stream.volume(), stream, replica, clock, Duration.ofSeconds(10), true, history);
    byte[] data = new byte[4096];
    Arrays.fill(data, (byte) 0x5a);
    stream
        .appendReplicated(
            List.of(JournalEntry.of(1, Compression.writeRecord(0, ByteBuffer.wrap(data), true))))
        .get(10, TimeUnit.SECONDS);
    applier.doWork(100);
    now.addAndGet(60_000);
    List<JournalEntry> points = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      long mark = 2 + 2L * i;
      points.add(JournalEntry.of(mark, new VerifyPoint.Mark(i << 20, 1 << 20, 1, i == 3).record()));
      points.add(
          JournalEntry.of(mark + 1, new VerifyPoint.Sum(i << 20, 1 << 20, mark, 1, 42).record()));
    }
    stream.appendReplicated(points).get(10, TimeUnit.SECONDS);
    now.addAndGet(1_000);
    while (applier.doWork(100) > 0) {
      // apply everything received
    }
    return applier;
  }
}
