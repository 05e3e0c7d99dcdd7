package io.kagami.bench;

import io.kagami.clock.SystemTime;
import io.kagami.journal.Compression;
import io.kagami.journal.JournalEntry;
import io.kagami.replicator.history.History;
import io.kagami.replicator.volume.FileVolume;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * What retention costs the standby's applier: the same entries (4 KiB random writes, or 64 KiB
 * ones, in batches as the applier reads them) applied to a replica file without history and with it
 * (before-images read, appended and forced before each run of non-overlapping writes). Alternates
 * the two, prints entries per second and the ratio; asserts nothing.
 *
 * <pre>java -cp ... io.kagami.bench.RetentionApplyCost [entries] [writeBytes] [batch]</pre>
 */
public final class RetentionApplyCost {
  private RetentionApplyCost() {}

  public static void main(String[] args) throws Exception {
    int entries = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
    int writeBytes = args.length > 1 ? Integer.parseInt(args[1]) : 4096;
    int batch = args.length > 2 ? Integer.parseInt(args[2]) : 256;
    long volume = 1L << 30;
    SplittableRandom rnd = new SplittableRandom(1);
    List<JournalEntry> all = new ArrayList<>();
    byte[] data = new byte[writeBytes];
    for (int i = 1; i <= entries; i++) {
      rnd.nextBytes(data);
      long off = rnd.nextLong(volume / writeBytes) * writeBytes;
      all.add(new JournalEntry(i, Compression.encodeWrite(off, ByteBuffer.wrap(data), false)));
    }
    Path dir = Files.createTempDirectory("kagami-retention-bench");
    try {
      for (int round = 0; round < 3; round++) {
        double plain =
            run(dir.resolve("plain" + round), all, batch, History.Retention.NONE, volume);
        double kept =
            run(
                dir.resolve("kept" + round),
                all,
                batch,
                new History.Retention(Duration.ofHours(1), 0),
                volume);
        System.out.printf(
            Locale.ROOT,
            "round %d: %d x %d B writes, batch %d: without history %.0f entries/s, with retention %.0f entries/s (ratio %.2f)%n",
            round,
            entries,
            writeBytes,
            batch,
            plain,
            kept,
            kept / plain);
      }
    } finally {
      try (var s = Files.walk(dir)) {
        s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  private static double run(
      Path dir, List<JournalEntry> all, int batch, History.Retention retention, long volume)
      throws Exception {
    Files.createDirectories(dir);
    try (FileVolume replica = FileVolume.openOrCreate(dir.resolve("replica"), volume);
        History h =
            new History(
                "vol0",
                dir.resolve("history"),
                retention,
                SystemTime.WALL,
                History.DEFAULT_SEGMENT_BYTES,
                0)) {
      long start = SystemTime.NANO.nanoTime();
      for (int i = 0; i < all.size(); i += batch) {
        h.apply(all.subList(i, Math.min(all.size(), i + batch)), replica, seq -> 0);
      }
      replica.force();
      return all.size() / ((SystemTime.NANO.nanoTime() - start) / 1e9);
    }
  }
}
