package io.kagami.site;

import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.DeviceError;
import io.kagami.replicator.volume.DeviceException;
import io.kagami.replicator.volume.ForwardingDevice;
import io.netty.buffer.ByteBuf;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * An NBD export whose device can be swapped while the server runs: a promotion turns a standby's
 * read-only replica into the primary's read-write volume under the same export name. Requests
 * already in flight finish on the device they started on; hosts that attached read-only keep the
 * read-only flag of their handshake until they reconnect.
 *
 * <p>Thread-safe and non-blocking: requests arrive on NBD event loops; {@link #fence} returns a
 * future that the last modification in flight completes, on whichever thread completes it.
 */
final class SwitchableDevice extends ForwardingDevice {
  private final String name;
  private final long sizeBytes;
  private volatile BlockDevice target;

  /** Non-null while modifications are refused (a role change in progress): the reason. */
  private volatile String fenced;

  /** Modifications started and not yet completed, on whichever device. */
  private final AtomicInteger inflight = new AtomicInteger();

  /** Completed when nothing is in flight after the last {@link #fence}. */
  private volatile CompletableFuture<Void> drained = CompletableFuture.completedFuture(null);

  SwitchableDevice(BlockDevice initial) {
    this.name = initial.name();
    this.sizeBytes = initial.sizeBytes();
    this.target = initial;
  }

  void replace(BlockDevice next) {
    if (!next.name().equals(name) || next.sizeBytes() != sizeBytes) {
      throw new IllegalArgumentException(
          "export "
              + name
              + " cannot be replaced by "
              + next.name()
              + " of "
              + next.sizeBytes()
              + " bytes");
    }
    target = next;
  }

  BlockDevice target() {
    return target;
  }

  /**
   * Refuses every modification from now on with EPERM and {@code why}; the future completes once
   * those already started have completed (the caller bounds the wait).
   */
  CompletableFuture<Void> fence(String why) {
    CompletableFuture<Void> d = new CompletableFuture<>();
    // The future first, then the fence, then the count: a modification that finishes after this
    // read of the count sees the future (see done()); one that finished before left the count at 0.
    drained = d;
    fenced = why;
    if (inflight.get() == 0) {
      d.complete(null);
    }
    return d;
  }

  private void done() {
    if (inflight.decrementAndGet() == 0 && fenced != null) {
      drained.complete(null);
    }
  }

  /** Why modifications are refused, or null while they are taken. */
  String fenced() {
    return fenced;
  }

  /** Takes modifications again (a role change was called off, or this export became writable). */
  void unfence() {
    fenced = null;
  }

  /** The current target: {@link #replace} keeps its name and size those of the first one. */
  @Override
  protected BlockDevice delegate() {
    return target;
  }

  /**
   * A verification point on {@code primary} (the volume behind this export), counted and fenced
   * like a modification: the point and its checksum are history too, so a role change's fence waits
   * until the checksum is journaled and nothing is placed after it.
   */
  CompletableFuture<io.kagami.journal.VerifyPoint.Sum> verify(
      io.kagami.journal.VerifyPoint.Mark mark, io.kagami.replicator.volume.PrimaryVolume primary) {
    return modify(() -> primary.verify(mark), null);
  }

  // Count first, then look at the fence and the target: fence() sets the fence before it waits for
  // the count, so a modification it does not see counted sees the fence.
  private <T> CompletableFuture<T> modify(Supplier<CompletableFuture<T>> op, ByteBuf release) {
    inflight.incrementAndGet();
    String why = fenced;
    if (why != null) {
      done();
      if (release != null) {
        release.release();
      }
      return CompletableFuture.failedFuture(
          new DeviceException(DeviceError.EPERM, "volume " + name + ": " + why));
    }
    CompletableFuture<T> f;
    try {
      f = op.get();
    } catch (RuntimeException e) {
      done();
      throw e;
    }
    return f.whenComplete((x, err) -> done());
  }

  @Override
  public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
    return modify(() -> target.write(offset, data, fua), data);
  }

  @Override
  public CompletableFuture<Void> writeZeroes(
      long offset, long length, boolean fua, boolean mayTrim) {
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
      done();
      throw e;
    }
    return f.whenComplete((x, err) -> done());
  }
}
