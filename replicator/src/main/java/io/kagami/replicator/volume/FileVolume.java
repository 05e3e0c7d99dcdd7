package io.kagami.replicator.volume;

import io.kagami.journal.Compression;
import io.kagami.journal.JournalRecord;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A volume's data as one sparse file, accessed with positional I/O from any thread.
 *
 * <p>Writes are not synced individually: the journal holds every change that {@link #force()} has
 * not yet made durable, and is replayed onto this file after a crash. Discards and zeroing punch
 * holes ({@code fallocate(PUNCH_HOLE)} through the FFM API) so volumes stay sparse; where the
 * filesystem cannot punch holes, zeroes are written instead.
 */
public final class FileVolume implements AutoCloseable {
  private static final int ZERO_CHUNK = 1 << 20;
  private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();
  private static final HolePuncher PUNCHER = HolePuncher.create();

  private final Path file;
  private final long size;
  private final FileChannel channel;
  private final int fd;

  private FileVolume(Path file, long size, FileChannel channel, int fd) {
    this.file = file;
    this.size = size;
    this.channel = channel;
    this.fd = fd;
  }

  /**
   * Opens the volume file, creating it sparse with {@code size} bytes if absent. An existing file
   * of another size is refused: it is some other volume, and replicating over it would destroy it.
   */
  public static FileVolume openOrCreate(Path file, long size) {
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      boolean existed = Files.exists(file);
      FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      long actual = ch.size();
      if (!existed || actual == 0) {
        if (actual == 0 && size > 0) {
          ch.write(ByteBuffer.wrap(new byte[1]), size - 1);
          ch.truncate(size);
        }
      } else if (actual != size) {
        ch.close();
        throw new IllegalStateException(
            "volume file " + file.getFileName() + " is " + actual + " bytes but the volume is configured as " + size
                + " bytes; refusing to use it (it belongs to another volume, or the size was changed)");
      }
      return new FileVolume(file, size, ch, PUNCHER.open(file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open volume file " + file + ": " + e.getMessage(), e);
    }
  }

  public Path file() {
    return file;
  }

  public long size() {
    return size;
  }

  /** Reads {@code dst.remaining()} bytes at {@code offset}. */
  public void read(long offset, ByteBuffer dst) throws IOException {
    long pos = offset;
    while (dst.hasRemaining()) {
      int n = channel.read(dst, pos);
      if (n < 0) {
        // Past the end of a file shorter than the volume: reads as zeroes.
        while (dst.hasRemaining()) {
          dst.put((byte) 0);
        }
        return;
      }
      pos += n;
    }
  }

  /** Writes {@code src.remaining()} bytes at {@code offset}. */
  public void write(long offset, ByteBuffer src) throws IOException {
    if (src.hasArray() && fd >= 0 && PUNCHER.pwrite != null) {
      // pwrite(2) straight from the heap array (a "critical" downcall may read the heap): the
      // channel would first copy a heap buffer into a temporary direct one.
      byte[] a = src.array();
      int from = src.arrayOffset() + src.position();
      int left = src.remaining();
      long pos = offset;
      while (left > 0) {
        long n = PUNCHER.pwrite(fd, a, from, left, pos);
        if (n <= 0) {
          break; // let the channel retry the rest and report the error properly
        }
        from += (int) n;
        left -= (int) n;
        pos += n;
        src.position(src.position() + (int) n);
      }
      if (!src.hasRemaining()) {
        return;
      }
      offset = pos;
    }
    long pos = offset;
    while (src.hasRemaining()) {
      pos += channel.write(src, pos);
    }
  }

  /** Makes the range read back as zeroes, deallocating it where possible. */
  public void zero(long offset, long length) throws IOException {
    if (length == 0) {
      return;
    }
    if (fd >= 0 && PUNCHER.punch(fd, offset, length)) {
      return;
    }
    long pos = offset;
    long end = offset + length;
    while (pos < end) {
      int n = (int) Math.min(ZERO_CHUNK, end - pos);
      write(pos, ZEROES.duplicate().limit(n));
      pos += n;
    }
  }

  /** Applies one journal record (the standby's and the crash-replay path). */
  public void apply(JournalRecord record) throws IOException {
    switch (record.kind()) {
      case WRITE -> write(record.offset(), ByteBuffer.wrap(Compression.data(record)));
      case TRIM, WRITE_ZEROES -> zero(record.offset(), record.length());
    }
  }

  /** Makes every completed write durable. */
  public void force() throws IOException {
    channel.force(false);
  }

  @Override
  public void close() throws IOException {
    try {
      channel.close();
    } finally {
      PUNCHER.close(fd);
    }
  }

  /** {@code fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)} on a second descriptor of the file. */
  private record HolePuncher(MethodHandle open, MethodHandle fallocate, MethodHandle close, MethodHandle pwrite) {
    private static final int O_RDWR = 2;
    private static final int O_CLOEXEC = 0x80000;
    private static final int PUNCH_HOLE_KEEP_SIZE = 0x02 | 0x01;

    @SuppressWarnings("restricted") // native access is enabled for Kagami at launch (--enable-native-access)
    static HolePuncher create() {
      try {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        MethodHandle open =
            linker.downcallHandle(
                libc.find("open").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
        MethodHandle fallocate =
            linker.downcallHandle(
                libc.find("fallocate").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
        MethodHandle close =
            linker.downcallHandle(libc.find("close").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        MethodHandle pwrite =
            linker.downcallHandle(
                libc.find("pwrite").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
                Linker.Option.critical(true));
        return new HolePuncher(open, fallocate, close, pwrite);
      } catch (RuntimeException | LinkageError e) {
        return new HolePuncher(null, null, null, null);
      }
    }

    int open(Path file) {
      if (open == null) {
        return -1;
      }
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment path = arena.allocateFrom(file.toAbsolutePath().toString());
        return (int) open.invokeExact(path, O_RDWR | O_CLOEXEC);
      } catch (Throwable t) {
        return -1;
      }
    }

    /** pwrite(2) of {@code a[from, from + len)}; the byte count, or -1. */
    long pwrite(int fd, byte[] a, int from, int len, long offset) {
      try {
        return (long) pwrite.invokeExact(fd, MemorySegment.ofArray(a).asSlice(from, len), (long) len, offset);
      } catch (Throwable t) {
        return -1;
      }
    }

    boolean punch(int fd, long offset, long length) {
      try {
        return (int) fallocate.invokeExact(fd, PUNCH_HOLE_KEEP_SIZE, offset, length) == 0;
      } catch (Throwable t) {
        return false;
      }
    }

    void close(int fd) {
      if (fd >= 0 && close != null) {
        try {
          int ignored = (int) close.invokeExact(fd);
        } catch (Throwable t) {
          // Nothing to do: the descriptor is gone either way.
        }
      }
    }
  }
}
