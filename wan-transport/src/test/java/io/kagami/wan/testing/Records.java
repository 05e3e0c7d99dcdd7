package io.kagami.wan.testing;

import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalRecord;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/** Encoded journal records of mixed kinds and sizes, some compressible and some not. */
public final class Records {
  private Records() {}

  /** {@code n} records from {@code random}: mostly small writes, some up to 64 KiB, a few trims. */
  public static List<byte[]> mixed(Random random, int n) {
    List<byte[]> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      int pick = random.nextInt(100);
      long offset = 4096L * random.nextInt(1 << 16);
      if (pick < 3) {
        out.add(JournalRecord.trim(offset, 4096 * (1 + random.nextInt(16))).encode());
        continue;
      }
      if (pick < 5) {
        out.add(JournalRecord.writeZeroes(offset, 65536).encode());
        continue;
      }
      int size =
          pick < 70
              ? 16 + random.nextInt(2048)
              : pick < 95 ? 2048 + random.nextInt(6144) : 8192 + random.nextInt(57344);
      byte[] data = new byte[size];
      if (random.nextBoolean()) {
        random.nextBytes(data); // incompressible, as most real data the journal could not shrink
      } else {
        byte[] word = ("block-" + i + "-").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        for (int j = 0; j < size; j++) {
          data[j] = word[j % word.length];
        }
      }
      out.add(
          new JournalRecord(JournalRecord.Kind.WRITE, offset, size, JournalRecord.Codec.NONE, data)
              .encode());
    }
    return out;
  }

  /** {@code n} uncompressed writes of {@code size} bytes each. */
  public static List<byte[]> fixed(Random random, int n, int size) {
    List<byte[]> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      byte[] data = new byte[size];
      random.nextBytes(data);
      out.add(
          new JournalRecord(
                  JournalRecord.Kind.WRITE, 4096L * i, size, JournalRecord.Codec.NONE, data)
              .encode());
    }
    return out;
  }

  /**
   * Null when {@code actual} is exactly {@code expected} (same seqs in order, same bytes), else
   * what a user would notice first.
   */
  public static String difference(
      String volume, List<JournalEntry> expected, List<JournalEntry> actual) {
    for (int i = 0; i < Math.min(expected.size(), actual.size()); i++) {
      JournalEntry e = expected.get(i);
      JournalEntry a = actual.get(i);
      if (e.seq() != a.seq()) {
        return "volume "
            + volume
            + ": position "
            + i
            + " holds seq "
            + a.seq()
            + ", expected seq "
            + e.seq();
      }
      if (!Arrays.equals(e.encoded(), a.encoded())) {
        return "volume "
            + volume
            + ": seq "
            + e.seq()
            + " differs from the primary's at byte "
            + Arrays.mismatch(e.encoded(), a.encoded());
      }
    }
    if (expected.size() != actual.size()) {
      return "volume "
          + volume
          + ": standby holds "
          + actual.size()
          + " entries, primary journaled "
          + expected.size();
    }
    return null;
  }
}
