package io.kagami.replicator.volume;

import io.kagami.journal.Compression;
import io.kagami.journal.JournalRecord;
import io.kagami.journal.NativeFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
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
 * holes ({@code fallocate(PUNCH_HOLE)}, see {@link NativeFiles}) so volumes stay sparse; where the
 * filesystem cannot punch holes, zeroes are written instead.
 */
public final class FileVolume implements AutoCloseable {
  private static final int ZERO_CHUNK = 1 << 20;
  private static final ByteBuffer ZEROES = ByteBuffer.allocateDirect(ZERO_CHUNK).asReadOnlyBuffer();

  private final Path file;
  private final long size;
  private final FileChannel channel;

  /**
   * The second descriptor ({@link NativeFiles}), -1 once closed: after close its number may belong
   * to another file at once, so no call may use it any more.
   */
  private volatile int fd;

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
      FileChannel ch =
          FileChannel.open(
              file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      long actual = ch.size();
      if (!existed || actual == 0) {
        if (actual == 0 && size > 0) {
          ch.write(ByteBuffer.wrap(new byte[1]), size - 1);
          ch.truncate(size);
        }
      } else if (actual != size) {
        ch.close();
        throw new IllegalStateException(
            "volume file "
                + file.getFileName()
                + " is "
                + actual
                + " bytes but the volume is configured as "
                + size
                + " bytes; refusing to use it (it belongs to another volume, or the size was changed)");
      }
      return new FileVolume(file, size, ch, NativeFiles.open(file));
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
    int d = fd;
    if (src.hasArray() && d >= 0) {
      // Straight from the heap array: the channel would first copy it into a direct buffer.
      int n =
          NativeFiles.pwriteFully(
              d, src.array(), src.arrayOffset() + src.position(), src.remaining(), offset);
      src.position(src.position() + n);
      if (!src.hasRemaining()) {
        return;
      }
      offset += n; // the channel retries the rest and reports the error properly
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
    if (NativeFiles.punchHole(fd, offset, length)) {
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
      case VERIFY, VERIFY_SUM -> {} // verification points change nothing (see VerifyPoint)
    }
  }

  /** Makes every completed write durable. */
  public void force() throws IOException {
    channel.force(false);
  }

  @Override
  public void close() throws IOException {
    int open = fd;
    fd = -1;
    try {
      channel.close();
    } finally {
      NativeFiles.close(open);
    }
  }
}
