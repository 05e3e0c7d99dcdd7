package io.kagami.replicator.apply;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Write order on the standby: a history of overlapping writes, trims and zeroes is shipped into a
 * standby journal and applied in cuts of random length; after every cut the replica must equal the
 * primary's state after exactly that many changes (a prefix), never a mixture.
 */
class ApplierPrefixTest {
  private static final int SIZE = 256 * 1024;
  @TempDir Path dir;

  @Test
  void everyCutOfTheApplyStreamIsAPrefixOfThePrimaryHistory() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println(
        "ApplierPrefixTest seed=" + seed + " (replay with -Dkagami.seed=" + seed + ")");
    Random rnd = new Random(seed);
    List<JournalRecord> history = new ArrayList<>();
    for (int i = 0; i < 600; i++) {
      int off = rnd.nextInt(SIZE / 512) * 512;
      int len = Math.min(SIZE - off, (1 + rnd.nextInt(32)) * 512);
      int kind = rnd.nextInt(10);
      if (kind == 0) {
        history.add(JournalRecord.trim(off, len));
      } else if (kind == 1) {
        history.add(JournalRecord.writeZeroes(off, len));
      } else {
        byte[] b = new byte[len];
        if (rnd.nextBoolean()) {
          rnd.nextBytes(b);
        } else {
          Arrays.fill(b, (byte) (i + 1));
        }
        history.add(Compression.writeRecord(off, ByteBuffer.wrap(b), true));
      }
    }
    // The primary's state after k changes, for every k.
    List<byte[]> states = new ArrayList<>();
    byte[] model = new byte[SIZE];
    states.add(model.clone());
    for (JournalRecord r : history) {
      if (r.kind() == JournalRecord.Kind.WRITE) {
        System.arraycopy(Compression.data(r), 0, model, (int) r.offset(), r.length());
      } else {
        Arrays.fill(model, (int) r.offset(), (int) r.end(), (byte) 0);
      }
      states.add(model.clone());
    }

    try (Journal journal = Journal.open(JournalConfig.at(dir.resolve("journal")), SystemTime.WALL);
        FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica.img"), SIZE)) {
      JournalStream stream = journal.stream("vol0");
      // Ship in random batch sizes, with some batches repeated as a resumed link would.
      int shipped = 0;
      List<CompletableFuture<Long>> stores = new ArrayList<>();
      while (shipped < history.size()) {
        int n = Math.min(history.size() - shipped, 1 + rnd.nextInt(40));
        int from = rnd.nextInt(5) == 0 ? Math.max(0, shipped - 3) : shipped;
        List<JournalEntry> batch = new ArrayList<>();
        for (int i = from; i < shipped + n; i++) {
          batch.add(JournalEntry.of(i + 1, history.get(i)));
        }
        stores.add(stream.appendReplicated(batch));
        shipped += n;
      }
      CompletableFuture.allOf(stores.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);

      Applier applier =
          new Applier("vol0", stream, replica, SystemTime.WALL, Duration.ofHours(1), false);
      byte[] seen = new byte[SIZE];
      int cuts = 0;
      while (applier.appliedSeq() < history.size()) {
        applier.doWork(1 + rnd.nextInt(25));
        cuts++;
        int k = (int) applier.appliedSeq();
        replica.read(0, ByteBuffer.wrap(seen));
        if (!Arrays.equals(seen, states.get(k))) {
          int at = Arrays.mismatch(seen, states.get(k));
          fail(
              "after cut %d at seq %d the replica differs from the primary's state after %d changes at offset 0x%x (seed %d)",
              cuts, k, k, at, seed);
        }
      }
      assertThat(cuts).isGreaterThan(10);
      assertThat(applier.appliedSeq()).isEqualTo(history.size());
    }
  }

  @Test
  void replayAfterCrashResumesFromTheCheckpointAndConverges() throws Exception {
    byte[] expected = new byte[SIZE];
    try (Journal journal = Journal.open(JournalConfig.at(dir.resolve("journal")), SystemTime.WALL);
        FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica.img"), SIZE)) {
      JournalStream stream = journal.stream("vol0");
      List<JournalEntry> batch = new ArrayList<>();
      for (int i = 0; i < 100; i++) {
        byte[] b = new byte[4096];
        Arrays.fill(b, (byte) i);
        int off = (i % 20) * 4096;
        System.arraycopy(b, 0, expected, off, 4096);
        batch.add(JournalEntry.of(i + 1, Compression.writeRecord(off, ByteBuffer.wrap(b), true)));
      }
      stream.appendReplicated(batch).get(10, TimeUnit.SECONDS);
      Applier a = new Applier("vol0", stream, replica, SystemTime.WALL, Duration.ofHours(1), true);
      a.doWork(40);
      a.checkpoint();
      a.doWork(30); // applied but not checkpointed: lost in the "crash" below
    }
    try (Journal journal = Journal.open(JournalConfig.at(dir.resolve("journal")), SystemTime.WALL);
        FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica.img"), SIZE)) {
      JournalStream stream = journal.stream("vol0");
      Applier a = new Applier("vol0", stream, replica, SystemTime.WALL, Duration.ofHours(1), true);
      assertThat(a.appliedSeq()).isEqualTo(40);
      assertThat(stream.firstSeq()).isEqualTo(41);
      assertThat(a.catchUp()).isEqualTo(60);
      byte[] seen = new byte[SIZE];
      replica.read(0, ByteBuffer.wrap(seen));
      assertThat(Arrays.mismatch(seen, expected)).as("first differing offset").isEqualTo(-1);
    }
  }
}
