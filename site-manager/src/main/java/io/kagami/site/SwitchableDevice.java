package io.kagami.site;

import io.kagami.replicator.volume.BlockDevice;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.kagami.replicator.volume.DeviceError;
import io.kagami.replicator.volume.DeviceException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

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
  /** Non-null while modifications are refused (a role change in progress): the reason. */
  private volatile String fenced;
  /** Modifications started and not yet completed, on whichever device. */
  private final AtomicInteger inflight = new AtomicInteger();

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

  BlockDevice target() {
    return target;
  }

  /**
   * Refuses every modification from now on with EPERM and {@code why}, and waits up to {@code
   * timeout} for those already started to complete. Returns false if some were still running.
   */
  boolean fence(String why, Duration timeout) {
    fenced = why;
    long deadline = System.nanoTime() + timeout.toNanos();
    while (inflight.get() > 0) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      LockSupport.parkNanos(200_000);
    }
    return true;
  }

  /** Why modifications are refused, or null while they are taken. */
  String fenced() {
    return fenced;
  }

  /** Takes modifications again (a role change was called off, or this export became writable). */
  void unfence() {
    fenced = null;
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

  // Count first, then look at the fence and the target: fence() sets the fence before it waits for
  // the count, so a modification it does not see counted sees the fence.
  private <T> CompletableFuture<T> modify(Supplier<CompletableFuture<T>> op, ByteBuf release) {
    inflight.incrementAndGet();
    String why = fenced;
    if (why != null) {
      inflight.decrementAndGet();
      if (release != null) {
        release.release();
      }
      return CompletableFuture.failedFuture(new DeviceException(DeviceError.EPERM, "volume " + name + ": " + why));
    }
    CompletableFuture<T> f;
    try {
      f = op.get();
    } catch (RuntimeException e) {
      inflight.decrementAndGet();
      throw e;
    }
    return f.whenComplete((x, err) -> inflight.decrementAndGet());
  }

  @Override
  public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
    return modify(() -> target.write(offset, data, fua), data);
  }

  @Override
  public CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua, boolean mayTrim) {
    return modify(() -> target.writeZeroes(offset, length, fua, mayTrim), null);
  }

  @Override
  public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
    return modify(() -> target.trim(offset, length, fua), null);
  }

  @Override
  public CompletableFuture<Void> flush() {
    // Not refused while fenced: what was acknowledged is durable or being made so; counted, so a
    // role change waits for it.
    inflight.incrementAndGet();
    CompletableFuture<Void> f;
    try {
      f = target.flush();
    } catch (RuntimeException e) {
      inflight.decrementAndGet();
      throw e;
    }
    return f.whenComplete((x, err) -> inflight.decrementAndGet());
  }
}
