package io.kagami.replicator.history;

import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.DeviceError;
import io.kagami.replicator.volume.DeviceException;
import io.kagami.replicator.volume.FileVolume;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * A DR drill's writable copy-on-write clone of a standby replica: reads show the replica frozen at
 * a point ({@link PointInTimeView}) except where the drill wrote; writes go to a private sparse
 * overlay file, tracked per {@value #BLOCK}-byte block. The replica is never written, so nothing
 * the drill does can reach it or the primary.
 *
 * <p>The clone is scratch space: writes are not made durable beyond {@link #flush} of the overlay,
 * and {@link #close} deletes the overlay (a drill does not survive a restart of its site). Partial
 * blocks are filled from the frozen view before their first write (read-modify-write under the
 * clone's lock, which serializes modifications; reads run concurrently).
 */
public final class DrillVolume implements BlockDevice, AutoCloseable {
  static final int BLOCK = 4096;

  private final String name;
  private final PointInTimeView view;
  private final FileVolume replica;
  private final FileVolume overlay;
  private final Path overlayFile;
  private final Executor io;
  private final BitSet written;
  private final Object modify = new Object();

  public DrillVolume(
      String name, PointInTimeView view, FileVolume replica, Path overlayFile, Executor io)
      throws IOException {
    this.name = name;
    this.view = view;
    this.replica = replica;
    this.overlayFile = overlayFile;
    this.io = io;
    Files.deleteIfExists(overlayFile);
    this.overlay = FileVolume.openOrCreate(overlayFile, replica.size());
    this.written = new BitSet((int) ((replica.size() + BLOCK - 1) / BLOCK));
  }

  public PointInTimeView view() {
    return view;
  }

  /** Bytes the drill has written (rounded to blocks). */
  public long writtenBytes() {
    synchronized (written) {
      return (long) written.cardinality() * BLOCK;
    }
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long sizeBytes() {
    return replica.size();
  }

  @Override
  public boolean readOnly() {
    return false;
  }

  @Override
  public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
    if (!inRange(offset, length)) {
      return CompletableFuture.failedFuture(
          new DeviceException(
              DeviceError.EINVAL,
              "request " + offset + "+" + length + " is beyond the end of the clone"));
    }
    if (view.voided() != null) {
      return CompletableFuture.failedFuture(voided());
    }
    return CompletableFuture.supplyAsync(
        () -> {
          ByteBuf buf = alloc.directBuffer(length, length);
          try {
            readInto(offset, buf.nioBuffer(0, length));
            buf.writerIndex(length);
            return buf;
          } catch (IOException | RuntimeException e) {
            buf.release();
            throw new DeviceException(
                DeviceError.EIO,
                "drill "
                    + name
                    + ": read of "
                    + length
                    + " bytes at "
                    + offset
                    + " failed: "
                    + e.getMessage(),
                e);
          }
        },
        io);
  }

  /**
   * What every request gets once a resync voided the frozen view (see {@link
   * PointInTimeView#invalidate}).
   */
  private DeviceException voided() {
    return new DeviceException(
        DeviceError.EIO, "drill " + name + ": its view is void: " + view.voided());
  }

  /** Reads runs of blocks from the overlay where written, else from the frozen view. */
  void readInto(long offset, ByteBuffer dst) throws IOException {
    long end = offset + dst.remaining();
    long pos = offset;
    int base = dst.position();
    while (pos < end) {
      int block = (int) (pos / BLOCK);
      boolean mine = isWritten(block);
      long runEnd = Math.min(end, (long) (block + 1) * BLOCK);
      while (runEnd < end && isWritten((int) (runEnd / BLOCK)) == mine) {
        runEnd = Math.min(end, runEnd + BLOCK);
      }
      ByteBuffer part = dst.duplicate();
      part.position(base + (int) (pos - offset)).limit(base + (int) (runEnd - offset));
      if (mine) {
        overlay.read(pos, part);
      } else {
        view.read(replica, pos, part);
      }
      pos = runEnd;
    }
    dst.position(base + (int) (end - offset));
  }

  private boolean isWritten(int block) {
    synchronized (written) {
      return written.get(block);
    }
  }

  @Override
  public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
    int length = data.readableBytes();
    if (!inRange(offset, length)) {
      data.release();
      return CompletableFuture.failedFuture(
          new DeviceException(
              DeviceError.ENOSPC,
              "write " + offset + "+" + length + " is beyond the end of the clone"));
    }
    byte[] bytes = new byte[length];
    data.readBytes(bytes);
    data.release();
    return modify(offset, length, () -> overlay.write(offset, ByteBuffer.wrap(bytes)), fua);
  }

  @Override
  public CompletableFuture<Void> writeZeroes(
      long offset, long length, boolean fua, boolean mayTrim) {
    if (!inRange(offset, length)) {
      return CompletableFuture.failedFuture(
          new DeviceException(
              DeviceError.ENOSPC,
              "range " + offset + "+" + length + " is beyond the end of the clone"));
    }
    return modify(offset, length, () -> overlay.zero(offset, length), fua);
  }

  @Override
  public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
    return writeZeroes(offset, length, fua, true);
  }

  private interface IoAction {
    void run() throws IOException;
  }

  private CompletableFuture<Void> modify(long offset, long length, IoAction action, boolean fua) {
    if (view.voided() != null) {
      return CompletableFuture.failedFuture(voided());
    }
    return CompletableFuture.runAsync(
        () -> {
          try {
            synchronized (modify) {
              if (length > 0) {
                fillEdge(offset);
                fillEdge(offset + length - 1);
              }
              action.run();
              if (length > 0) {
                synchronized (written) {
                  written.set((int) (offset / BLOCK), (int) ((offset + length - 1) / BLOCK) + 1);
                }
              }
            }
            if (fua) {
              overlay.force();
            }
          } catch (IOException e) {
            throw new DeviceException(
                DeviceError.EIO,
                "drill " + name + ": write at " + offset + " failed: " + e.getMessage(),
                e);
          }
        },
        io);
  }

  /**
   * Copies the frozen content of {@code pos}'s block into the overlay before its first partial
   * write.
   */
  private void fillEdge(long pos) throws IOException {
    int block = (int) (pos / BLOCK);
    if (isWritten(block)) {
      return;
    }
    long start = (long) block * BLOCK;
    int n = (int) Math.min(BLOCK, replica.size() - start);
    ByteBuffer b = ByteBuffer.allocate(n);
    view.read(replica, start, b);
    b.flip();
    overlay.write(start, b);
  }

  @Override
  public CompletableFuture<Void> flush() {
    return CompletableFuture.runAsync(
        () -> {
          try {
            overlay.force();
          } catch (IOException e) {
            throw new DeviceException(
                DeviceError.EIO, "drill " + name + ": flush failed: " + e.getMessage(), e);
          }
        },
        io);
  }

  private boolean inRange(long offset, long length) {
    return offset >= 0
        && length >= 0
        && offset <= replica.size()
        && length <= replica.size() - offset;
  }

  /** Deletes the overlay: everything the drill wrote is gone. */
  @Override
  public void close() throws IOException {
    try {
      overlay.close();
    } finally {
      Files.deleteIfExists(overlayFile);
    }
  }
}
