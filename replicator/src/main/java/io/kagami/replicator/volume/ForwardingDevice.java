package io.kagami.replicator.volume;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.concurrent.CompletableFuture;

/**
 * A device that hands every request to another one, {@link #delegate()}: the base of the wrappers
 * around an export (a fence, metrics, a swappable target), which override only the requests they
 * act on. Adds no threads, ordering or durability of its own: what the delegate guarantees holds.
 */
public abstract class ForwardingDevice implements BlockDevice {

  /** The device that serves what this one does not override; read on every request. */
  protected abstract BlockDevice delegate();

  @Override
  public String name() {
    return delegate().name();
  }

  @Override
  public long sizeBytes() {
    return delegate().sizeBytes();
  }

  @Override
  public boolean readOnly() {
    return delegate().readOnly();
  }

  @Override
  public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
    return delegate().read(offset, length, alloc);
  }

  @Override
  public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
    return delegate().write(offset, data, fua);
  }

  @Override
  public int writeHeadroom() {
    return delegate().writeHeadroom();
  }

  @Override
  public CompletableFuture<Void> writeZeroes(
      long offset, long length, boolean fua, boolean mayTrim) {
    return delegate().writeZeroes(offset, length, fua, mayTrim);
  }

  @Override
  public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
    return delegate().trim(offset, length, fua);
  }

  @Override
  public CompletableFuture<Void> flush() {
    return delegate().flush();
  }
}
