package io.kagami.journal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One segment file of a {@link SegmentLog} and its descriptors: a channel, a second descriptor for
 * {@link NativeFiles} (positional reads and writes straight from heap arrays) and, on segments the
 * log created, an O_DIRECT descriptor for large records. A segment found on open gets its
 * descriptors when first read.
 *
 * <p>Not thread-safe: the log guards the fields ({@link #size}, {@link #lastSeq}, opening and
 * closing) with its own lock; writes come from the journal thread only.
 */
final class SegmentFile {
  private static final System.Logger LOG = System.getLogger(SegmentFile.class.getName());

  final long id;
  final Path path;
  FileChannel channel;

  /** A second descriptor for {@link NativeFiles} (-1: none), open while {@link #channel} is. */
  int fd = -1;

  /** An O_DIRECT descriptor for large records (-1: none), only on segments this log created. */
  int directFd = -1;

  long size;
  long lastSeq;
  boolean referenced;

  SegmentFile(long id, Path path) {
    this.id = id;
    this.path = path;
  }

  /**
   * Creates the file (it must not exist) and opens it, with an O_DIRECT descriptor if asked and
   * possible.
   */
  void create(boolean direct) throws IOException {
    channel =
        FileChannel.open(
            path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
    fd = NativeFiles.open(path);
    if (direct) {
      directFd = NativeFiles.openDirect(path);
    }
    referenced = true;
  }

  /**
   * Writes one record through the page cache, straight from the array (the channel would copy it
   * into a direct buffer first); the channel writes what the native call could not, and reports the
   * error if that fails too.
   */
  void writeThroughPageCache(long offset, byte[] record) throws IOException {
    int n = NativeFiles.pwriteFully(fd, record, 0, record.length, offset);
    if (n < record.length) {
      writeFully(channel, ByteBuffer.wrap(record, n, record.length - n), offset + n);
    }
  }

  static void writeFully(FileChannel channel, ByteBuffer buf, long at) throws IOException {
    long pos = at;
    while (buf.hasRemaining()) {
      pos += channel.write(buf, pos);
    }
  }

  /** Fills {@code out} from the start of the record {@code p} (entry {@code seq}) names. */
  void read(SegmentPointer p, long seq, byte[] out) {
    try {
      if (channel == null) {
        channel = FileChannel.open(path, StandardOpenOption.READ);
        fd = NativeFiles.open(path);
      }
      ByteBuffer buf = ByteBuffer.wrap(out);
      long pos = p.offset();
      long n0 = NativeFiles.pread(fd, out, 0, out.length, pos);
      if (n0 > 0) {
        // Straight into the array; the channel would read into a direct buffer and copy.
        buf.position((int) n0);
        pos += n0;
      }
      while (buf.hasRemaining()) {
        int n = channel.read(buf, pos);
        if (n < 0) {
          throw new JournalException(
              "journal segment "
                  + path.getFileName()
                  + " ends before seq "
                  + seq
                  + " (offset "
                  + p.offset()
                  + ", length "
                  + p.length()
                  + ")");
        }
        pos += n;
      }
    } catch (IOException e) {
      throw new JournalException(
          "cannot read journal segment " + path + ": " + e.getMessage(), e, false);
    }
  }

  /** Closes the descriptors and deletes the file (trimmed, or never referenced). */
  void delete() {
    try {
      if (channel != null) {
        channel.close();
        NativeFiles.close(fd);
        fd = -1;
        NativeFiles.close(directFd);
        directFd = -1;
      }
      Files.deleteIfExists(path);
    } catch (NoSuchFileException e) {
      // already gone
    } catch (IOException e) {
      LOG.log(
          Level.WARNING, "cannot delete trimmed journal segment {0}: {1}", path, e.getMessage());
    }
  }

  /** Closes the descriptors; the file stays. */
  void close() {
    if (channel == null) {
      return;
    }
    try {
      channel.close();
    } catch (IOException e) {
      LOG.log(Level.WARNING, "closing journal segment {0}: {1}", path, e.getMessage());
    }
    NativeFiles.close(fd);
    fd = -1;
    NativeFiles.close(directFd);
    directFd = -1;
    channel = null;
  }
}
