package io.kagami.replicator.history;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.clock.SystemTime;
import io.kagami.journal.Compression;
import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalRecord;
import io.kagami.replicator.volume.FileVolume;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The undo store against a model: random write/overwrite/zero histories are applied in random
 * batches; views pinned along the way, rollbacks and a restart after a crash (the replica holding
 * any in-order subset of the unsynced writes, the undo log a torn tail) must all show exactly the
 * model's state at their seq.
 */
class HistoryTest {
  private static final int SIZE = 64 * 1024;
  @TempDir Path dir;

  private final AtomicLong now = new AtomicLong(1_000_000);
  private final InstantSource clock = () -> Instant.ofEpochMilli(now.get());

  /** A random history and the model's state after every prefix of it (states.get(k): after k). */
  private record Model(List<JournalRecord> records, List<byte[]> states) {
    JournalEntry entry(int seq) {
      return JournalEntry.of(seq, records.get(seq - 1));
    }
  }

  private static Model model(Random rnd, int n) {
    List<JournalRecord> records = new ArrayList<>();
    List<byte[]> states = new ArrayList<>();
    byte[] state = new byte[SIZE];
    states.add(state.clone());
    for (int i = 0; i < n; i++) {
      // A small hot spot so blocks are overwritten many times, plus the whole volume.
      int off = (rnd.nextInt(3) == 0 ? rnd.nextInt(8) : rnd.nextInt(SIZE / 512)) * 512;
      int len = Math.min(SIZE - off, (1 + rnd.nextInt(16)) * 512);
      int kind = rnd.nextInt(10);
      if (kind == 0) {
        records.add(JournalRecord.writeZeroes(off, len));
        Arrays.fill(state, off, off + len, (byte) 0);
      } else {
        byte[] b = new byte[len];
        if (rnd.nextBoolean()) {
          rnd.nextBytes(b);
        } else {
          Arrays.fill(b, (byte) (i + 1));
        }
        records.add(Compression.writeRecord(off, ByteBuffer.wrap(b), true));
        System.arraycopy(b, 0, state, off, len);
      }
      states.add(state.clone());
    }
    return new Model(records, states);
  }

  private History history(Path undoDir, History.Retention r, long journalLast) {
    return new History("vol0", undoDir, r, clock, 8 << 10, journalLast);
  }

  private static byte[] read(PointInTimeView v, FileVolume replica) throws IOException {
    byte[] out = new byte[SIZE];
    // Odd-sized reads so pieces are cut at arbitrary points.
    for (int pos = 0; pos < SIZE; pos += 3000) {
      int n = Math.min(3000, SIZE - pos);
      v.read(replica, pos, ByteBuffer.wrap(out, pos, n));
    }
    return out;
  }

  private static byte[] read(FileVolume f) throws IOException {
    byte[] out = new byte[SIZE];
    f.read(0, ByteBuffer.wrap(out));
    return out;
  }

  private static void assertSame(byte[] actual, byte[] expected, String what) {
    int at = Arrays.mismatch(actual, expected);
    assertThat(at)
        .as(what + " differs from the model at offset 0x" + Integer.toHexString(Math.max(at, 0)))
        .isEqualTo(-1);
  }

  private void apply(History h, FileVolume replica, Model m, int from, int to, Random rnd)
      throws IOException {
    int seq = from;
    while (seq <= to) {
      int n = Math.min(to - seq + 1, 1 + rnd.nextInt(12));
      List<JournalEntry> batch = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        batch.add(m.entry(seq + i));
      }
      long base = seq;
      h.apply(batch, replica, s -> 1_000_000 + s * 10);
      seq += n;
      now.set(1_000_000 + (seq - 1) * 10L);
      assertThat(base).isPositive();
    }
  }

  @Test
  void viewsPinnedAlongTheWayAndRollbacksShowExactlyTheStateAtTheirSeq() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("HistoryTest seed=" + seed + " (replay with -Dkagami.seed=" + seed + ")");
    Random rnd = new Random(seed);
    Model m = model(rnd, 400);
    try (FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica"), SIZE);
        History h =
            history(dir.resolve("undo"), new History.Retention(Duration.ofHours(1), 0), 0)) {
      List<PointInTimeView> views = new ArrayList<>();
      int applied = 0;
      while (applied < 400) {
        int next = Math.min(400, applied + 1 + rnd.nextInt(60));
        apply(h, replica, m, applied + 1, next, rnd);
        applied = next;
        long at = rnd.nextInt(applied + 1);
        views.add(h.pin(at, applied));
      }
      assertSame(read(replica), m.states().get(400), "replica after all entries");
      for (PointInTimeView v : views) {
        assertSame(
            read(v, replica), m.states().get((int) v.seq()), "view pinned at seq " + v.seq());
      }
      assertThat(h.recoverableFrom(400).seq()).isZero();
      assertThat(h.seqAt(Instant.ofEpochMilli(1_000_000 + 123 * 10 + 5), 400)).isEqualTo(123);
      assertThatThrownBy(() -> h.pin(401, 400)).hasMessageContaining("not applied yet");
      for (PointInTimeView v : views) {
        h.unpin(v);
      }
      int target = 400 - rnd.nextInt(200);
      h.rollback(target, replica);
      assertSame(read(replica), m.states().get(target), "replica rolled back to seq " + target);
      // Idempotent: a rollback cut short by a crash is run again from the start.
      h.rollback(target, replica);
      assertSame(
          read(replica), m.states().get(target), "replica rolled back twice to seq " + target);
    }
  }

  @Test
  void trimmingByTimeAndBytesMovesTheWindowButNeverPastAPinnedView() throws Exception {
    Random rnd = new Random(7);
    Model m = model(rnd, 300);
    try (FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica"), SIZE);
        History h =
            history(dir.resolve("undo"), new History.Retention(Duration.ofMillis(500), 0), 0)) {
      apply(h, replica, m, 1, 100, rnd);
      PointInTimeView pinned = h.pin(20, 100);
      apply(h, replica, m, 101, 300, rnd);
      h.trim(); // now = 3_000_000+; window 500 ms: everything before seq ~250 is old
      assertThat(h.recoverableFrom(300).seq())
          .as("a pinned view keeps its records")
          .isLessThanOrEqualTo(20);
      assertSame(read(pinned, replica), m.states().get(20), "pinned view after a trim");
      h.unpin(pinned);
      long from = h.recoverableFrom(300).seq();
      assertThat(from).as("window after unpinning").isGreaterThan(200).isLessThanOrEqualTo(300);
      assertThatThrownBy(() -> h.pin(from - 1, 300))
          .isInstanceOf(History.OutsideWindowException.class)
          .hasMessageContaining("covers seq " + from + " to 300");
      PointInTimeView v = h.pin(from, 300);
      assertSame(read(v, replica), m.states().get((int) from), "view at the window's start");
    }
    try (FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica2"), SIZE);
        History h =
            history(dir.resolve("undo2"), new History.Retention(Duration.ZERO, 40 << 10), 0)) {
      apply(h, replica, m, 1, 300, rnd);
      long before = h.bytes();
      h.trim();
      // Whole segments go; one batch may overfill the newest segment past the cap on its own.
      assertThat(h.bytes())
          .as("byte cap 40 KiB, trimmed from " + before)
          .isLessThan(before)
          .isLessThanOrEqualTo((40 << 10) + (128 << 10));
    }
  }

  @Test
  void withoutRetentionADrillPinsTheCurrentPointAndRecordsOnlyWhileItRuns() throws Exception {
    Random rnd = new Random(11);
    Model m = model(rnd, 200);
    try (FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica"), SIZE);
        History h = history(dir.resolve("undo"), History.Retention.NONE, 0)) {
      apply(h, replica, m, 1, 50, rnd);
      assertThat(h.bytes()).isZero();
      assertThat(h.recoverableFrom(50)).isNull();
      assertThatThrownBy(() -> h.pin(49, 50)).hasMessageContaining("no retention is configured");
      PointInTimeView v = h.pin(50, 50);
      apply(h, replica, m, 51, 200, rnd);
      assertSame(read(v, replica), m.states().get(50), "drill view at seq 50");
      h.unpin(v);
      assertThat(h.bytes()).as("history dropped once the drill stops").isZero();
    }
  }

  @Test
  void drillCloneWritesStayInTheOverlayAndReadsFallBackToTheFrozenView() throws Exception {
    Random rnd = new Random(3);
    Model m = model(rnd, 100);
    try (FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica"), SIZE);
        History h = history(dir.resolve("undo"), History.Retention.NONE, 0)) {
      apply(h, replica, m, 1, 40, rnd);
      PointInTimeView v = h.pin(40, 40);
      try (DrillVolume clone =
          new DrillVolume("vol0-drill", v, replica, dir.resolve("vol0.drill"), Runnable::run)) {
        byte[] expected = m.states().get(40).clone();
        byte[] mine = new byte[10_000];
        rnd.nextBytes(mine);
        clone.write(1000, Unpooled.wrappedBuffer(mine), false).join(); // unaligned: partial blocks
        System.arraycopy(mine, 0, expected, 1000, mine.length);
        clone.writeZeroes(30_000, 5000, false, true).join();
        Arrays.fill(expected, 30_000, 35_000, (byte) 0);
        apply(h, replica, m, 41, 100, rnd); // replication goes on under the drill
        ByteBuf got = clone.read(0, SIZE, ByteBufAllocator.DEFAULT).join();
        byte[] actual = new byte[SIZE];
        got.readBytes(actual);
        got.release();
        assertSame(actual, expected, "clone (frozen at 40 plus the drill's writes)");
        assertSame(read(replica), m.states().get(100), "replica under the drill");
      }
      assertThat(Files.exists(dir.resolve("vol0.drill")))
          .as("overlay deleted when the drill stops")
          .isFalse();
    }
  }

  @Test
  void aResyncUnderARunningDrillVoidsItsCloneInsteadOfShowingAMixedVolume() throws Exception {
    Random rnd = new Random(5);
    Model m = model(rnd, 60);
    try (FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica"), SIZE);
        History h = history(dir.resolve("undo"), History.Retention.NONE, 0)) {
      apply(h, replica, m, 1, 30, rnd);
      PointInTimeView v = h.pin(30, 30);
      try (DrillVolume clone =
          new DrillVolume("vol0-drill", v, replica, dir.resolve("vol0.drill"), Runnable::run)) {
        clone.write(0, Unpooled.wrappedBuffer(new byte[4096]), false).join();
        assertThat(v.voided()).isNull();

        h.reset(1000); // a resync: regions go into the replica outside the journal
        replica.write(8192, ByteBuffer.wrap(new byte[] {42}));

        assertThat(v.voided()).contains("a resync rewrote the replica from seq 1000");
        assertThatThrownBy(() -> clone.read(8192, 512, ByteBufAllocator.DEFAULT).join())
            .hasMessageContaining("its view is void")
            .cause()
            .isInstanceOfSatisfying(
                io.kagami.replicator.volume.DeviceException.class,
                e -> assertThat(e.error()).isEqualTo(io.kagami.replicator.volume.DeviceError.EIO));
        assertThatThrownBy(() -> clone.read(0, 512, ByteBufAllocator.DEFAULT).join())
            .as("even what the drill wrote itself")
            .hasMessageContaining("view is void");
        assertThatThrownBy(
                () -> clone.write(0, Unpooled.wrappedBuffer(new byte[512]), false).join())
            .hasMessageContaining("view is void");
        assertThatThrownBy(() -> read(v, replica))
            .isInstanceOf(IOException.class)
            .hasMessageContaining("the view of seq 30 is void");
      }
      h.unpin(v);
    }
  }

  @Test
  void afterACrashTheReplayRecapturesOnlyWhatWasNeverCommittedAndEveryPointStaysExact()
      throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("HistoryTest crash seed=" + seed);
    Random rnd = new Random(seed);
    Model m = model(rnd, 300);
    for (int round = 0; round < 8; round++) {
      Path undo = dir.resolve("undo" + round);
      Path replicaFile = dir.resolve("replica" + round);
      int checkpoint = 20 + rnd.nextInt(80);
      int crashAt = checkpoint + rnd.nextInt(100);
      try (FileVolume replica = FileVolume.openOrCreate(replicaFile, SIZE);
          History h = history(undo, new History.Retention(Duration.ofHours(1), 0), 0)) {
        apply(h, replica, m, 1, crashAt, rnd);
      }
      // The crash: the replica on disk holds the checkpoint plus an in-order subset of the later
      // writes (what the page cache happened to write back); the undo log may end in a torn batch.
      try (FileVolume replica = FileVolume.openOrCreate(replicaFile, SIZE)) {
        byte[] disk = m.states().get(checkpoint).clone();
        for (int s = checkpoint + 1; s <= crashAt; s++) {
          if (rnd.nextBoolean()) {
            JournalRecord r = m.records().get(s - 1);
            if (r.kind() == JournalRecord.Kind.WRITE) {
              System.arraycopy(Compression.data(r), 0, disk, (int) r.offset(), r.length());
            } else {
              Arrays.fill(disk, (int) r.offset(), (int) r.offset() + r.length(), (byte) 0);
            }
          }
        }
        replica.write(0, ByteBuffer.wrap(disk));
      }
      tearTail(undo, rnd);
      try (FileVolume replica = FileVolume.openOrCreate(replicaFile, SIZE);
          History h = history(undo, new History.Retention(Duration.ofHours(1), 0), crashAt)) {
        apply(h, replica, m, checkpoint + 1, 300, rnd); // the applier replays from its checkpoint
        assertSame(
            read(replica), m.states().get(300), "replica after replay (round " + round + ")");
        for (int i = 0; i < 6; i++) {
          int at = rnd.nextInt(301);
          PointInTimeView v = h.pin(at, 300);
          assertSame(
              read(v, replica),
              m.states().get(at),
              "view at seq " + at + " after a crash at " + crashAt + " (round " + round + ")");
          h.unpin(v);
        }
      }
    }
  }

  /**
   * Appends half a batch (records without their COMMIT, the last one cut) to the newest segment.
   */
  private static void tearTail(Path undo, Random rnd) throws IOException {
    List<Path> segs = new ArrayList<>();
    try (var s = Files.list(undo)) {
      s.filter(p -> p.toString().endsWith(".undo")).sorted().forEach(segs::add);
    }
    if (segs.isEmpty() || rnd.nextInt(4) == 0) {
      return;
    }
    byte[] junk = new byte[UndoLog.HEADER + 100];
    junk[0] = UndoLog.VERSION;
    junk[1] = UndoLog.IMAGE;
    ByteBuffer.wrap(junk).putLong(2, Long.MAX_VALUE / 2).putInt(26, 500);
    try (FileChannel ch =
        FileChannel.open(segs.getLast(), StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
      ch.write(ByteBuffer.wrap(junk, 0, UndoLog.HEADER + rnd.nextInt(100)));
    }
  }
}
