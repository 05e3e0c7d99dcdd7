package io.kagami.journal;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * The few libc calls that {@link java.nio.channels.FileChannel} lacks or makes costlier, through
 * the FFM API, on a second descriptor of a file the caller also has open as a channel:
 *
 * <ul>
 *   <li>{@code pwrite}/{@code pread} straight from/into a heap array (a "critical" downcall may
 *       touch the Java heap): a channel first copies a heap buffer into a temporary direct one, one
 *       more pass over every byte of a 1 MiB write;
 *   <li>{@code fallocate(PUNCH_HOLE | KEEP_SIZE)}, which Java has no call for;
 *   <li>{@code open(O_DIRECT)} and writes from aligned native memory, which bypass the page cache
 *       (Java offers O_DIRECT only through a JDK-internal option).
 * </ul>
 *
 * <p>Every method reports failure as a value (-1, false) and the caller falls back to its channel,
 * which then raises the error with its message; where the calls cannot be linked at all, {@link
 * #open} returns -1 and nothing else is tried. Native access is enabled for Kagami at launch
 * ({@code --enable-native-access}).
 */
public final class NativeFiles {
  private static final int O_RDWR = 2;
  private static final int O_CLOEXEC = 0x80000;
  private static final int PUNCH_HOLE_KEEP_SIZE = 0x02 | 0x01;

  /** O_DIRECT differs between architectures; 0 where we do not know it (then never direct). */
  private static final int O_DIRECT =
      switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> 0x4000;
        case "aarch64", "arm" -> 0x10000;
        default -> 0;
      };

  /** Alignment of offsets, lengths and memory that every Linux filesystem accepts for O_DIRECT. */
  public static final int DIRECT_ALIGNMENT = 4096;

  private static final Calls CALLS = Calls.link();

  private NativeFiles() {}

  private record Calls(
      MethodHandle open,
      MethodHandle fallocate,
      MethodHandle close,
      MethodHandle pwrite,
      MethodHandle pread) {
    @SuppressWarnings("restricted")
    static Calls link() {
      try {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        FunctionDescriptor io =
            FunctionDescriptor.of(
                ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS,
                ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_LONG);
        return new Calls(
            linker.downcallHandle(
                libc.find("open").orElseThrow(),
                FunctionDescriptor.of(
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT)),
            linker.downcallHandle(
                libc.find("fallocate").orElseThrow(),
                FunctionDescriptor.of(
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_LONG,
                    ValueLayout.JAVA_LONG)),
            linker.downcallHandle(
                libc.find("close").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT)),
            linker.downcallHandle(
                libc.find("pwrite").orElseThrow(), io, Linker.Option.critical(true)),
            linker.downcallHandle(
                libc.find("pread").orElseThrow(), io, Linker.Option.critical(true)));
      } catch (RuntimeException | LinkageError e) {
        return null;
      }
    }
  }

  /** A read-write descriptor of {@code file}, or -1 (then use the channel for everything). */
  public static int open(Path file) {
    return open(file, O_RDWR | O_CLOEXEC);
  }

  /**
   * A read-write descriptor of {@code file} that bypasses the page cache (O_DIRECT), or -1 where
   * that is not possible (unknown architecture, or a filesystem such as tmpfs that refuses it).
   * Writes through it need {@link #DIRECT_ALIGNMENT}-aligned offsets, lengths and memory.
   */
  public static int openDirect(Path file) {
    return O_DIRECT == 0 ? -1 : open(file, O_RDWR | O_CLOEXEC | O_DIRECT);
  }

  private static int open(Path file, int flags) {
    if (CALLS == null) {
      return -1;
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment path = arena.allocateFrom(file.toAbsolutePath().toString());
      return (int) CALLS.open.invokeExact(path, flags);
    } catch (Throwable t) {
      return -1;
    }
  }

  /**
   * Writes all of native {@code src} at {@code offset}; false on any failure, after which the
   * caller rewrites the whole range through its channel (which reports the error).
   */
  public static boolean pwriteFully(int fd, MemorySegment src, long offset) {
    return pwriteAll(fd, src, offset) == src.byteSize();
  }

  /**
   * pwrite(2) of {@code src} at {@code offset} until done or failed; the bytes written before that.
   */
  private static long pwriteAll(int fd, MemorySegment src, long offset) {
    if (fd < 0) {
      return 0;
    }
    long done = 0;
    long len = src.byteSize();
    try {
      while (done < len) {
        long n = (long) CALLS.pwrite.invokeExact(fd, src.asSlice(done), len - done, offset + done);
        if (n <= 0) {
          break;
        }
        done += n;
      }
    } catch (Throwable t) {
      // what was written so far stands; the caller goes on through its channel
    }
    return done;
  }

  /**
   * pread(2) into {@code a[from, from + len)} from {@code offset}: the byte count (0 at the end),
   * or -1.
   */
  public static long pread(int fd, byte[] a, int from, int len, long offset) {
    if (fd < 0) {
      return -1;
    }
    try {
      return (long)
          CALLS.pread.invokeExact(
              fd, MemorySegment.ofArray(a).asSlice(from, len), (long) len, offset);
    } catch (Throwable t) {
      return -1;
    }
  }

  /**
   * Writes all of {@code a[from, from + len)} at {@code offset}; returns how many bytes were
   * written before a failure (the caller writes the rest through its channel, which reports it).
   */
  public static int pwriteFully(int fd, byte[] a, int from, int len, long offset) {
    return (int) pwriteAll(fd, MemorySegment.ofArray(a).asSlice(from, len), offset);
  }

  /** Makes the range read back as zeroes and frees its blocks; false where that is not possible. */
  public static boolean punchHole(int fd, long offset, long length) {
    if (fd < 0) {
      return false;
    }
    try {
      return (int) CALLS.fallocate.invokeExact(fd, PUNCH_HOLE_KEEP_SIZE, offset, length) == 0;
    } catch (Throwable t) {
      return false;
    }
  }

  public static void close(int fd) {
    if (fd >= 0 && CALLS != null) {
      try {
        int ignored = (int) CALLS.close.invokeExact(fd);
      } catch (Throwable t) {
        // Nothing to do: the descriptor is gone either way.
      }
    }
  }
}
