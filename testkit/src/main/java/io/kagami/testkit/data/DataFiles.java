package io.kagami.testkit.data;

import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.OptionalLong;
import java.util.Random;

/**
 * Test data on disk: reproducible random files and byte-for-byte comparisons whose failures say
 * what a user would notice, e.g. {@code replica differs from primary at offset 0x3f000}.
 *
 * <p>Random content depends only on (seed, size): the same seed always yields the same bytes, so a
 * failure printed with its seed can be replayed.
 */
public final class DataFiles {
  private static final int CHUNK = 1 << 20;

  private DataFiles() {}

  /** Writes {@code size} bytes from {@code new Random(seed)} to {@code file} (replacing it). */
  public static Path createRandom(Path file, long size, long seed) throws IOException {
    if (size < 0) {
      throw new IllegalArgumentException("size must not be negative, got " + size);
    }
    Random random = new Random(seed);
    byte[] chunk = new byte[CHUNK];
    try (OutputStream out = Files.newOutputStream(file)) {
      for (long left = size; left > 0; left -= CHUNK) {
        // Always draw a whole chunk so the bytes at an offset do not depend on the file size.
        random.nextBytes(chunk);
        out.write(chunk, 0, (int) Math.min(CHUNK, left));
      }
    }
    return file;
  }

  /** The first {@code length} bytes {@link #createRandom} writes for {@code seed}. */
  public static byte[] randomBytes(int length, long seed) {
    Random random = new Random(seed);
    byte[] out = new byte[length];
    byte[] chunk = new byte[CHUNK];
    for (int done = 0; done < length; done += CHUNK) {
      random.nextBytes(chunk);
      System.arraycopy(chunk, 0, out, done, Math.min(CHUNK, length - done));
    }
    return out;
  }

  /** Creates (or truncates) {@code file} as a sparse file of {@code size} bytes of zeroes. */
  public static Path createSparse(Path file, long size) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(0);
      f.setLength(size);
    }
    return file;
  }

  /** {@code 0x3f000}. */
  public static String hex(long offset) {
    return "0x" + Long.toHexString(offset);
  }

  /**
   * The first offset at which the two files differ, including where the shorter one ends; empty if
   * they are identical.
   */
  public static OptionalLong firstDifference(Path a, Path b) throws IOException {
    long sizeA = Files.size(a);
    long sizeB = Files.size(b);
    OptionalLong d = firstDifference(a, 0, b, 0, Math.min(sizeA, sizeB));
    if (d.isPresent() || sizeA == sizeB) {
      return d;
    }
    return OptionalLong.of(Math.min(sizeA, sizeB));
  }

  /**
   * The first position, counted from the start of the ranges, at which {@code length} bytes of
   * {@code a} from {@code offsetA} and of {@code b} from {@code offsetB} differ; a range that runs
   * past its file's end differs where the file ends.
   */
  public static OptionalLong firstDifference(
      Path a, long offsetA, Path b, long offsetB, long length) throws IOException {
    try (FileChannel ca = FileChannel.open(a, StandardOpenOption.READ);
        FileChannel cb = FileChannel.open(b, StandardOpenOption.READ)) {
      ByteBuffer ba = ByteBuffer.allocate(CHUNK);
      ByteBuffer bb = ByteBuffer.allocate(CHUNK);
      for (long pos = 0; pos < length; pos += CHUNK) {
        int want = (int) Math.min(CHUNK, length - pos);
        int gotA = readFully(ca, offsetA + pos, ba, want);
        int gotB = readFully(cb, offsetB + pos, bb, want);
        int n = Math.min(gotA, gotB);
        int mismatch = ba.slice(0, n).mismatch(bb.slice(0, n));
        if (mismatch >= 0) {
          return OptionalLong.of(pos + mismatch);
        }
        if (n < want) {
          return OptionalLong.of(pos + n);
        }
      }
      return OptionalLong.empty();
    }
  }

  /** Fails with "replica differs from primary at offset 0x..." unless the files are identical. */
  public static void assertReplicaMatchesPrimary(Path primary, Path replica) throws IOException {
    assertSameContent("primary", primary, "replica", replica);
  }

  /**
   * Fails with "{@code actualRole} differs from {@code expectedRole} at offset 0x..." unless the
   * two files are identical, naming the bytes found there.
   */
  public static void assertSameContent(
      String expectedRole, Path expected, String actualRole, Path actual) throws IOException {
    OptionalLong d = firstDifference(expected, actual);
    if (d.isEmpty()) {
      return;
    }
    long at = d.getAsLong();
    throw new AssertionError(
        actualRole
            + " differs from "
            + expectedRole
            + " at offset "
            + hex(at)
            + " ("
            + describe(expectedRole, expected, at)
            + ", "
            + describe(actualRole, actual, at)
            + ")");
  }

  /**
   * Fails unless {@code length} bytes of {@code actual} from {@code actualOffset} equal those of
   * {@code expected} from {@code expectedOffset}; the message gives the offset in each file.
   */
  public static void assertSameRange(
      String expectedRole,
      Path expected,
      long expectedOffset,
      String actualRole,
      Path actual,
      long actualOffset,
      long length)
      throws IOException {
    OptionalLong d = firstDifference(expected, expectedOffset, actual, actualOffset, length);
    if (d.isEmpty()) {
      return;
    }
    long e = expectedOffset + d.getAsLong();
    long a = actualOffset + d.getAsLong();
    String where =
        e == a
            ? "at offset " + hex(a)
            : "at offset " + hex(a) + " (offset " + hex(e) + " of " + expectedRole + ")";
    throw new AssertionError(
        actualRole
            + " differs from "
            + expectedRole
            + " "
            + where
            + " ("
            + describe(expectedRole, expected, e)
            + ", "
            + describe(actualRole, actual, a)
            + ")");
  }

  /**
   * Fails unless the arrays are equal; {@code baseOffset} is where {@code expected[0]} lives on the
   * volume, so the message names a volume offset.
   */
  public static void assertSameBytes(
      String expectedRole, byte[] expected, String actualRole, byte[] actual, long baseOffset) {
    int i = Arrays.mismatch(expected, actual);
    if (i < 0) {
      return;
    }
    throw new AssertionError(
        actualRole
            + " differs from "
            + expectedRole
            + " at offset "
            + hex(baseOffset + i)
            + " ("
            + describe(expectedRole, expected, i)
            + ", "
            + describe(actualRole, actual, i)
            + ")");
  }

  private static String describe(String role, byte[] bytes, int i) {
    return i < bytes.length
        ? String.format("%s has 0x%02x", role, bytes[i])
        : role + " ends there, " + bytes.length + " bytes";
  }

  private static String describe(String role, Path file, long offset) throws IOException {
    try (FileChannel c = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer one = ByteBuffer.allocate(1);
      if (c.read(one, offset) == 1) {
        return String.format("%s has 0x%02x", role, one.get(0));
      }
      return role + " ends there, " + c.size() + " bytes";
    }
  }

  private static int readFully(FileChannel c, long position, ByteBuffer buf, int want)
      throws IOException {
    buf.clear().limit(want);
    while (buf.hasRemaining()) {
      int n = c.read(buf, position + buf.position());
      if (n < 0) {
        break;
      }
    }
    return buf.position();
  }
}
