package io.kagami.replicator.volume;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * The standby's replica as a read-only export: reads see the applied prefix of the primary's
 * history; every modification fails with {@link DeviceError#EPERM}.
 */
public final class ReplicaVolume extends FileBackedVolume {
  public ReplicaVolume(String name, FileVolume file, Executor reads) {
    super(name, file, reads);
  }

  @Override
  public boolean readOnly() {
    return true;
  }

  @Override
  public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
    return readFile(offset, length, alloc);
  }

  @Override
  public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
    data.release();
    return refused();
  }

  @Override
  public CompletableFuture<Void> writeZeroes(
      long offset, long length, boolean fua, boolean mayTrim) {
    return refused();
  }

  @Override
  public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
    return refused();
  }

  @Override
  public CompletableFuture<Void> flush() {
    return CompletableFuture.completedFuture(null);
  }

  private CompletableFuture<Void> refused() {
    return CompletableFuture.failedFuture(
        new DeviceException(
            DeviceError.EPERM, "volume " + name + " is a standby replica and read-only"));
  }
}
