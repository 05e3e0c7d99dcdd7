package io.kagami.replicator.apply;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.journal.Compression;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalRecord;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.volume.FileVolume;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * When the standby's applier syncs its replica: once its interval has passed, or earlier once
 * {@link Applier#CHECKPOINT_AFTER_BYTES} were applied, never after every batch. A checkpoint shows
 * as {@link Applier#checkpointSeq()} and the trimmed journal.
 */
class ApplierCheckpointTest {
  private static final long SIZE = 2L << 30; // sparse
  @TempDir Path dir;
  private final AtomicLong now = new AtomicLong(1_000_000);
  private final InstantSource clock = () -> Instant.ofEpochMilli(now.get());

  @Test
  void theReplicaIsSyncedOnceTheIntervalPassedOrAfterAGigabyteApplied() throws Exception {
    try (Journal journal = Journal.open(JournalConfig.at(dir.resolve("journal")), SystemTime.WALL);
        FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica.img"), SIZE)) {
      JournalStream stream = journal.stream("vol0");
      Applier applier = new Applier("vol0", stream, replica, clock, Duration.ofSeconds(10), true);
      stream
          .appendReplicated(
              List.of(
                  JournalEntry.of(
                      1, Compression.writeRecord(0, ByteBuffer.wrap(new byte[4096]), true))))
          .get(10, TimeUnit.SECONDS);

      applier.doWork(100);
      assertThat(applier.appliedSeq()).isEqualTo(1);
      assertThat(applier.checkpointSeq()).as("the interval has not passed").isZero();
      now.addAndGet(9_999);
      applier.doWork(100);
      assertThat(applier.checkpointSeq()).isZero();
      now.addAndGet(1);
      applier.doWork(100);
      assertThat(applier.checkpointSeq()).as("10 s after the last checkpoint").isEqualTo(1);
      assertThat(stream.firstSeq()).as("trimmed through the checkpoint").isEqualTo(2);

      // Two half-gigabyte zeroings (cheap: no data) make a gigabyte applied: due at once.
      stream
          .appendReplicated(List.of(JournalEntry.of(2, JournalRecord.writeZeroes(0, 512 << 20))))
          .get(10, TimeUnit.SECONDS);
      applier.doWork(100);
      assertThat(applier.checkpointSeq()).isEqualTo(1);
      stream
          .appendReplicated(
              List.of(JournalEntry.of(3, JournalRecord.writeZeroes(512L << 20, 512 << 20))))
          .get(10, TimeUnit.SECONDS);
      applier.doWork(100);
      assertThat(applier.checkpointSeq())
          .as("%d bytes applied since the last checkpoint", Applier.CHECKPOINT_AFTER_BYTES)
          .isEqualTo(3);
    }
  }
}
