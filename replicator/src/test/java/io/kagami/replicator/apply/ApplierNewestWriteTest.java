package io.kagami.replicator.apply;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.journal.Compression;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalStream;
import io.kagami.journal.VerifyPoint;
import io.kagami.replicator.history.History;
import io.kagami.replicator.volume.FileVolume;
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
 * A standby volume that receives only verification points after its last write keeps that write as
 * its newest: the applier's newest applied write, the history's time of the replica's current point
 * (what a recovery report calls its point's time, and its RPO) and what {@code --at} a time after
 * the write finds, across a restart of the applier too. Verification points are journal entries
 * that change nothing; read as writes, they would make an idle replica look a minute fresher than
 * the data it holds.
 */
class ApplierNewestWriteTest {
  private static final long SIZE = 4L << 20;
  @TempDir Path dir;
  private final AtomicLong now = new AtomicLong(1_000_000);
  private final InstantSource clock = () -> Instant.ofEpochMilli(now.get());

  @Test
  void verificationPointsAfterTheLastWriteLeaveItTheNewestWriteAndTheTimeOfThePoint()
      throws Exception {
    History.Retention oneHour = new History.Retention(Duration.ofHours(1), 0);
    long last;
    try (Journal journal = Journal.open(JournalConfig.at(dir.resolve("journal")), clock);
        FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica.img"), SIZE);
        History history = new History("vol0", dir.resolve("undo"), oneHour, clock, 1 << 20, 0)) {
      JournalStream stream = journal.stream("vol0");
      Applier applier =
          new Applier("vol0", stream, replica, clock, Duration.ofSeconds(10), true, history);
      byte[] data = new byte[4096];
      Arrays.fill(data, (byte) 0x5a);
      stream
          .appendReplicated(
              List.of(JournalEntry.of(1, Compression.writeRecord(0, ByteBuffer.wrap(data), true))))
          .get(10, TimeUnit.SECONDS);
      applier.doWork(100);
      // A minute later, a pass of verification points and nothing else.
      now.addAndGet(60_000);
      List<JournalEntry> points = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        long mark = 2 + 2L * i;
        points.add(
            JournalEntry.of(mark, new VerifyPoint.Mark(i << 20, 1 << 20, 1, i == 3).record()));
        points.add(
            JournalEntry.of(mark + 1, new VerifyPoint.Sum(i << 20, 1 << 20, mark, 1, 42).record()));
      }
      last = stream.appendReplicated(points).get(10, TimeUnit.SECONDS);
      now.addAndGet(1_000);
      while (applier.doWork(100) > 0) {
        // apply everything received
      }
      assertThat(applier.appliedSeq()).isEqualTo(last).isEqualTo(9);
      assertThat(applier.appliedWriteSeq())
          .as("newest applied write after %d verification points", last - 1)
          .isEqualTo(1);
      assertThat(history.timeOf(applier.appliedSeq()))
          .as("time of the replica's current point: the write's, not the last point's")
          .isEqualTo(Instant.ofEpochMilli(1_000_000));
      assertThat(history.seqAt(Instant.ofEpochMilli(1_030_000), applier.appliedSeq()))
          .as("--at a time between the write and the points")
          .isEqualTo(1);
      assertThat(history.seqAt(Instant.ofEpochMilli(1_060_500), applier.appliedSeq()))
          .as("--at a time after the points: the write before it")
          .isEqualTo(1);
      assertThat(stream.writeBytesAfter(applier.appliedSeq())).isZero();
      applier.checkpoint();
    }
    // After a restart the applier starts at its checkpoint and still knows the newest write.
    try (Journal journal = Journal.open(JournalConfig.at(dir.resolve("journal")), clock);
        FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica.img"), SIZE)) {
      Applier applier =
          new Applier("vol0", journal.stream("vol0"), replica, clock, Duration.ofSeconds(10), true);
      assertThat(applier.appliedSeq()).isEqualTo(last);
      assertThat(applier.appliedWriteSeq()).as("newest applied write after a restart").isEqualTo(1);
    }
  }
}
