package io.kagami.site.failover;

import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.DeviceError;
import io.kagami.replicator.volume.DeviceException;
import io.kagami.replicator.volume.ForwardingDevice;
import io.netty.buffer.ByteBuf;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * An NBD export behind a {@link WriteFence}: while the fence is closed, every modification and
 * flush fails with {@code EIO} naming the reason, and a modification that was in flight when the
 * fence closed is not acknowledged either (it may be in the local journal, but the host is not told
 * it is durable: after a failover it belongs to the diverged history the operator reconciles).
 * Reads pass through (they change nothing); a read-only device keeps answering {@code EPERM}.
 */
public final class FencedDevice extends ForwardingDevice {
  private final BlockDevice target;
  private final WriteFence fence;

  public FencedDevice(BlockDevice target, WriteFence fence) {
    this.target = target;
    this.fence = fence;
  }

  @Override
  protected BlockDevice delegate() {
    return target;
  }

  @Override
  public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
    if (!target.readOnly() && !fence.open()) {
      data.release();
      return refused("WRITE");
    }
    return gated(() -> target.write(offset, data, fua), "WRITE");
  }

  @Override
  public CompletableFuture<Void> writeZeroes(
      long offset, long length, boolean fua, boolean mayTrim) {
    return gated(() -> target.writeZeroes(offset, length, fua, mayTrim), "WRITE_ZEROES");
  }

  @Override
  public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
    return gated(() -> target.trim(offset, length, fua), "TRIM");
  }

  @Override
  public CompletableFuture<Void> flush() {
    return gated(target::flush, "FLUSH");
  }

  private CompletableFuture<Void> gated(Supplier<CompletableFuture<Void>> op, String what) {
    if (target.readOnly()) {
      return op.get();
    }
    if (!fence.open()) {
      return refused(what);
    }
    // Checked again on completion: the acknowledgement is what the fence withholds.
    return op.get()
        .thenCompose(v -> fence.open() ? CompletableFuture.completedFuture(v) : refused(what));
  }

  private CompletableFuture<Void> refused(String what) {
    return CompletableFuture.failedFuture(
        new DeviceException(
            DeviceError.EIO,
            "volume "
                + target.name()
                + ": "
                + what
                + " not acknowledged: site fenced ("
                + fence.reason()
                + ")"));
  }
}
