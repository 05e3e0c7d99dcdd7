package io.kagami.replicator.resync;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.replicator.volume.PrimaryVolume;
import io.netty.buffer.Unpooled;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BacklogTest {
  private static final int G = 64 << 10;
  private static final long SIZE = 64L << 20;
  @TempDir Path dir;
  private Journal journal;
  private FileVolume file;
  private PrimaryVolume device;
  private final Random rnd = new Random(7);

  @BeforeEach
  void open() {
    journal = Journal.open(JournalConfig.at(dir.resolve("journal")), SystemTime.WALL);
    file = FileVolume.openOrCreate(dir.resolve("vol0.img"), SIZE);
    device =
        new PrimaryVolume(
            "vol0", file, journal.stream("vol0"), true, Executors.newSingleThreadExecutor());
  }

  @AfterEach
  void close() throws Exception {
    journal.close();
    file.close();
  }

  private void write(long offset, int length) throws Exception {
    byte[] data = new byte[length];
    rnd.nextBytes(data);
    device.write(offset, Unpooled.wrappedBuffer(data), false).get(10, TimeUnit.SECONDS);
  }

  private Backlog backlog(long capacity, long peer) throws Exception {
    return new Backlog(
        device, DirtyBitmap.open(dir.resolve("vol0.bitmap"), G, SIZE), capacity, peer);
  }

  @Test
  void historyWithinCapacityIsTrimmedOnlyAsFarAsTheStandbyHoldsIt() throws Exception {
    Backlog b = backlog(4L << 20, 0);
    write(0, 512 << 10);
    write(G * 20L, 512 << 10);
    assertThat(b.checkOverflow()).isFalse();
    assertThat(b.trimBound(2)).isZero();
    b.peerDurable(1);
    assertThat(b.trimBound(2)).isEqualTo(1);
    assertThat(b.needsResync()).isFalse();
    assertThat(b.historyBytes()).isGreaterThan(512 << 10);
  }

  @Test
  void overflowMarksTheUnsentHistoryBeforeItMayBeTrimmed() throws Exception {
    Backlog b = backlog(1L << 20, 0);
    write(0, 512 << 10); // regions 0-7
    write(G * 100L + 4096, 512 << 10); // regions 100-108
    write(G * 20L, 4096); // region 20
    assertThat(b.checkOverflow()).isTrue();
    assertThat(b.trimBound(3)).as("everything checkpointed may go").isEqualTo(3);
    DirtyBitmap map = b.bitmap();
    assertThat(map.markedThrough()).isEqualTo(3);
    assertThat(map.dirtyRegions()).isEqualTo(8 + 9 + 1);
    assertThat(map.isDirty(108)).isTrue();
    assertThat(map.isDirty(109)).isFalse();
    // Persisted before the trim could happen.
    assertThat(DirtyBitmap.open(dir.resolve("vol0.bitmap"), G, SIZE).dirtyRegions()).isEqualTo(18);
    assertThat(b.needsResync()).isTrue();

    long base = b.beginResync();
    assertThat(base).isEqualTo(3);
    assertThat(b.overflowed()).isFalse();
    assertThat(b.readRegion(20)).hasSize(G);
    assertThat(b.readRegion(50))
        .as("a never written region reads as zeroes: sent without data")
        .isNull();
    for (long r = map.nextDirty(0); r >= 0; r = map.nextDirty(r + 1)) {
      b.regionDurable(r);
    }
    assertThat(b.needsResync()).isFalse();
    write(G * 30L, 4096);
    assertThat(b.endResync()).isEqualTo(4);
    // After the resync, history after the base is kept until the standby has it.
    assertThat(b.trimBound(4)).isEqualTo(3);
    b.peerDurable(4);
    assertThat(b.trimBound(4)).isEqualTo(4);
  }

  @Test
  void aStandbyThatLostAcknowledgedHistoryGetsTheWholeVolume() throws Exception {
    Backlog b = backlog(4L << 20, 0);
    write(0, 4096);
    write(4096, 4096);
    b.peerDurable(2);
    b.standbyResumesAt(2);
    assertThat(b.needsResync()).isFalse();
    b.standbyResumesAt(0); // replaced: holds nothing any more
    assertThat(b.needsResync()).isTrue();
    assertThat(b.bitmap().dirtyRegions()).isEqualTo(b.bitmap().regions());
  }
}
