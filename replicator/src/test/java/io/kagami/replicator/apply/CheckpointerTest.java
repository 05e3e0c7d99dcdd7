package io.kagami.replicator.apply;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.replicator.resync.Backlog;
import io.kagami.replicator.resync.DirtyBitmap;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.replicator.volume.PrimaryVolume;
import io.netty.buffer.Unpooled;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * When the primary syncs its volume file: only when that lets history go (or when a checkpoint has
 * been put off too long). A checkpoint is visible as {@link Checkpointer#checkpointSeq()} and the
 * persisted {@link Applier#META_APPLIED}, which are only ever moved after the sync.
 */
class CheckpointerTest {
  private static final long SIZE = 16L << 20;
  @TempDir Path dir;
  private Journal journal;
  private FileVolume file;
  private PrimaryVolume device;
  private final ExecutorService reads = Executors.newSingleThreadExecutor();
  private final java.util.Random random = new java.util.Random(11);

  @BeforeEach
  void open() {
    journal = Journal.open(JournalConfig.at(dir.resolve("journal")), SystemTime.WALL);
    file = FileVolume.openOrCreate(dir.resolve("vol0.img"), SIZE);
    device = new PrimaryVolume("vol0", file, journal.stream("vol0"), true, reads);
  }

  @AfterEach
  void close() throws Exception {
    journal.close();
    file.close();
    reads.close();
  }

  private void writes(int count) throws Exception {
    for (int i = 0; i < count; i++) {
      byte[] data = new byte[4096];
      random.nextBytes(data); // incompressible: history takes its full size
      device.write(i * 4096L, Unpooled.wrappedBuffer(data), false).get(10, TimeUnit.SECONDS);
    }
    assertThat(device.awaitVolumeWrites(Duration.ofSeconds(10))).isTrue();
  }

  private Backlog backlog(long capacity) throws Exception {
    return new Backlog(
        device, DirtyBitmap.open(dir.resolve("vol0.bitmap"), 64 << 10, SIZE), capacity, 0);
  }

  /** Runs {@code n} housekeeping rounds; returns the entries trimmed. */
  private static long rounds(Checkpointer c, int n) {
    long trimmed = 0;
    for (int i = 0; i < n; i++) {
      trimmed += c.doWork();
    }
    return trimmed;
  }

  @Test
  void theVolumeIsSyncedOnlyWhenTheStandbyHoldsEntriesPastTheLastCheckpointAndAtMostEveryTenRounds()
      throws Exception {
    Backlog backlog = backlog(1L << 30);
    Checkpointer c = new Checkpointer(device, backlog::trimBound);
    writes(3);

    assertThat(c.doWork()).isZero();
    assertThat(c.checkpointSeq())
        .as("the standby holds nothing: a sync would let nothing go")
        .isZero();

    backlog.peerDurable(2);
    assertThat(rounds(c, Checkpointer.MIN_ROUNDS_BETWEEN_SYNCS - 2)).isZero();
    assertThat(c.checkpointSeq())
        .as("paced: not before round %d", Checkpointer.MIN_ROUNDS_BETWEEN_SYNCS)
        .isZero();
    assertThat(c.doWork()).as("entries 1-2 trimmed").isEqualTo(2);
    assertThat(c.checkpointSeq()).isEqualTo(3);
    assertThat(device.stream().meta(Applier.META_APPLIED, 0)).isEqualTo(3);

    writes(2); // seq 4-5; the standby is further behind than the checkpoint
    backlog.peerDurable(3);
    assertThat(c.doWork()).as("entry 3 trimmed without a sync").isEqualTo(1);
    assertThat(c.checkpointSeq()).isEqualTo(3);

    backlog.peerDurable(4);
    assertThat(rounds(c, Checkpointer.MIN_ROUNDS_BETWEEN_SYNCS - 2)).isZero();
    assertThat(c.checkpointSeq()).isEqualTo(3);
    assertThat(c.doWork()).isEqualTo(1);
    assertThat(c.checkpointSeq())
        .as("entry 4 can only go once the volume is synced past it")
        .isEqualTo(5);
    assertThat(device.stream().firstSeq()).isEqualTo(5);
  }

  @Test
  void aCheckpointIsPutOffAtMostMaxRoundsSoACrashReplaysABoundedTail() throws Exception {
    Checkpointer c = new Checkpointer(device, backlog(1L << 30)::trimBound);
    writes(2);
    for (int round = 1; round < Checkpointer.MAX_ROUNDS_WITHOUT_SYNC; round++) {
      c.doWork();
      assertThat(c.checkpointSeq()).as("round %d", round).isZero();
    }
    c.doWork();
    assertThat(c.checkpointSeq()).isEqualTo(2);
    assertThat(device.stream().meta(Applier.META_APPLIED, 0)).isEqualTo(2);
    assertThat(device.stream().firstSeq())
        .as("the standby still holds nothing: nothing trimmed")
        .isEqualTo(1);
  }

  @Test
  void overflowedHistoryIsCheckpointedAndTrimmed() throws Exception {
    Backlog backlog = backlog(1L << 20);
    Checkpointer c = new Checkpointer(device, backlog::trimBound);
    writes(300); // 1.2 MiB of history over a 1 MiB capacity
    assertThat(backlog.checkOverflow()).isTrue();

    assertThat(rounds(c, Checkpointer.MIN_ROUNDS_BETWEEN_SYNCS)).isEqualTo(300);
    assertThat(c.checkpointSeq()).isEqualTo(300);
    assertThat(backlog.bitmap().markedThrough()).as("marked before trimmed").isEqualTo(300);
  }
}
