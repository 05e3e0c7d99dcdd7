package io.kagami.site;

import io.kagami.replicator.volume.BlockDevice;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.concurrent.CompletableFuture;

/**
 * An NBD export whose device can be swapped while the server runs: a promotion turns a standby's
 * read-only replica into the primary's read-write volume under the same export name. Requests
 * already in flight finish on the device they started on; hosts that attached read-only keep the
 * read-only flag of their handshake until they reconnect.
 */
final class SwitchableDevice implements BlockDevice {
  private final String name;
  private final long sizeBytes;
  private volatile BlockDevice target;

  SwitchableDevice(BlockDevice initial) {
    this.name = initial.name();
    this.sizeBytes = initial.sizeBytes();
    this.target = initial;
  }

  void replace(BlockDevice next) {
    if (!next.name().equals(name) || next.sizeBytes() != sizeBytes) {
      throw new IllegalArgumentException("export " + name + " cannot be replaced by " + next.name() + " of " + next.sizeBytes() + " bytes");
    }
    target = next;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long sizeBytes() {
    return sizeBytes;
  }

  @Override
  public boolean readOnly() {
    return target.readOnly();
  }

  @Override
  public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
    return target.read(offset, length, alloc);
  }

  @Override
  public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
    return target.write(offset, data, fua);
  }

  @Override
  public CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua, boolean mayTrim) {
    return target.writeZeroes(offset, length, fua, mayTrim);
  }

  @Override
  public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
    return target.trim(offset, length, fua);
  }

  @Override
  public CompletableFuture<Void> flush() {
    return target.flush();
  }
}
