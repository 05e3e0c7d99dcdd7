package io.kagami.replicator.volume;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * An export served from a local {@link FileVolume}, the primary's volume or the standby's replica:
 * its name, its size (the file's), and reads of the file on the {@code reads} executor, never on
 * the caller's event loop. Each subclass decides what a modification does and when a read may look
 * at the file.
 */
abstract sealed class FileBackedVolume implements BlockDevice permits PrimaryVolume, ReplicaVolume {
  final String name;
  final FileVolume file;
  private final Executor reads;

  FileBackedVolume(String name, FileVolume file, Executor reads) {
    this.name = name;
    this.file = file;
    this.reads = reads;
  }

  @Override
  public final String name() {
    return name;
  }

  @Override
  public final long sizeBytes() {
    return file.size();
  }

  /** Reads {@code length} bytes of the file at {@code offset} on the read executor. */
  final CompletableFuture<ByteBuf> readFile(long offset, int length, ByteBufAllocator alloc) {
    if (!inRange(file, offset, length)) {
      return CompletableFuture.failedFuture(outOfRange(file, offset, length));
    }
    return CompletableFuture.supplyAsync(
        () -> {
          ByteBuf buf = alloc.directBuffer(length, length);
          try {
            file.read(offset, buf.nioBuffer(0, length));
            buf.writerIndex(length);
            return buf;
          } catch (IOException | RuntimeException e) {
            buf.release();
            throw new DeviceException(
                DeviceError.EIO,
                "read of " + length + " bytes at " + offset + " failed: " + e.getMessage(),
                e);
          }
        },
        reads);
  }

  static boolean inRange(FileVolume file, long offset, long length) {
    return offset >= 0 && length >= 0 && offset <= file.size() && length <= file.size() - offset;
  }

  static DeviceException outOfRange(FileVolume file, long offset, long length) {
    return new DeviceException(
        DeviceError.EINVAL,
        "request "
            + offset
            + "+"
            + length
            + " is beyond the end of the volume ("
            + file.size()
            + " bytes)");
  }
}
