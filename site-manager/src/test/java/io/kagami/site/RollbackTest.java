package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.journal.Compression;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.history.History;
import io.kagami.replicator.volume.FileVolume;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A point-in-time rollback cut short by a crash at each of its steps is completed on the next
 * start: the replica is exactly the state at the target, the journal ends there, the applied point
 * is the target, and the history and the record are gone.
 */
class RollbackTest {
  private static final int SIZE = 128 * 1024;
  @TempDir Path dir;

  private enum Cut {
    AFTER_RECORD,
    MID_ROLLBACK,
    AFTER_TRUNCATE
  }

  @Test
  void aRollbackInterruptedAtAnyStepIsCompletedOnTheNextStart() throws Exception {
    for (Cut cut : Cut.values()) {
      Path d = dir.resolve(cut.name());
      Random rnd = new Random(cut.ordinal() * 31L + 5);
      List<byte[]> states = new ArrayList<>();
      byte[] state = new byte[SIZE];
      states.add(state.clone());
      int total = 120;
      int target = 30 + rnd.nextInt(40);
      try (Journal j = Journal.open(JournalConfig.at(d.resolve("journal")), SystemTime.WALL);
          FileVolume replica = FileVolume.openOrCreate(d.resolve("vol0.img"), SIZE);
          History h = history(d)) {
        JournalStream s = j.stream("vol0");
        for (int i = 0; i < total; i++) {
          int off = rnd.nextInt(SIZE / 4096) * 4096;
          byte[] b = new byte[4096 * (1 + rnd.nextInt(3))];
          rnd.nextBytes(b);
          int len = Math.min(b.length, SIZE - off);
          s.append(Compression.writeRecord(off, ByteBuffer.wrap(b, 0, len), true), true, null)
              .get(10, TimeUnit.SECONDS);
          System.arraycopy(b, 0, state, off, len);
          states.add(state.clone());
        }
        h.apply(s.read(1, Integer.MAX_VALUE), replica, seq -> 1000 + seq);
        s.putMeta(Applier.META_APPLIED, total);
        // The crash, after the steps that happened:
        s.putMeta(Rollback.META_ROLLBACK_TO, target + 1);
        switch (cut) {
          case AFTER_RECORD -> {}
          case MID_ROLLBACK ->
              h.rollback(
                  target + 1 + rnd.nextInt(total - target - 1),
                  replica); // part of the newest-first run
          case AFTER_TRUNCATE -> {
            h.rollback(target, replica);
            s.truncateAfter(target);
          }
        }
      }
      try (Journal j = Journal.open(JournalConfig.at(d.resolve("journal")), SystemTime.WALL);
          FileVolume replica = FileVolume.openOrCreate(d.resolve("vol0.img"), SIZE);
          History h = history(d)) {
        JournalStream s = j.stream("vol0");
        assertThat(Rollback.resumeIfInterrupted("vol0", s, h, replica)).isEqualTo(target);
        byte[] actual = new byte[SIZE];
        replica.read(0, ByteBuffer.wrap(actual));
        int at = Arrays.mismatch(actual, states.get(target));
        assertThat(at)
            .as(
                "%s: replica differs from the state at seq %d at offset 0x%x",
                cut, target, Math.max(at, 0))
            .isEqualTo(-1);
        assertThat(s.lastSeq()).as(cut + ": journal end").isEqualTo(target);
        assertThat(s.meta(Applier.META_APPLIED, -1)).isEqualTo(target);
        assertThat(s.meta(Rollback.META_ROLLBACK_TO, -1)).isZero();
        assertThat(h.bytes()).as(cut + ": history dropped").isZero();
        assertThat(Rollback.resumeIfInterrupted("vol0", s, h, replica))
            .as("nothing pending any more")
            .isEqualTo(-1);
      }
    }
  }

  private static History history(Path d) {
    return new History(
        "vol0",
        d.resolve("history"),
        new History.Retention(Duration.ofHours(1), 0),
        SystemTime.WALL,
        64 << 10,
        0);
  }
}
