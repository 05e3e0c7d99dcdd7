package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.DeviceError;
import io.kagami.replicator.volume.DeviceException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/**
 * A role change's fence: new modifications refused with EPERM, the drain a future the last one
 * completes.
 */
class SwitchableDeviceTest {
  /** A device whose modifications complete when the test says so, one future each. */
  private static final class HeldDevice implements BlockDevice {
    final List<CompletableFuture<Void>> pending = new ArrayList<>();

    @Override
    public String name() {
      return "vol0";
    }

    @Override
    public long sizeBytes() {
      return 1 << 20;
    }

    @Override
    public boolean readOnly() {
      return false;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
      return CompletableFuture.completedFuture(alloc.buffer(length).writeZero(length));
    }

    private CompletableFuture<Void> hold() {
      CompletableFuture<Void> f = new CompletableFuture<>();
      pending.add(f);
      return f;
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
      data.release();
      return hold();
    }

    @Override
    public CompletableFuture<Void> writeZeroes(
        long offset, long length, boolean fua, boolean mayTrim) {
      return hold();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
      return hold();
    }

    @Override
    public CompletableFuture<Void> flush() {
      return hold();
    }
  }

  @Test
  void fenceCompletesWhenTheLastModificationInFlightCompletes() {
    HeldDevice held = new HeldDevice();
    SwitchableDevice export = new SwitchableDevice(held);
    CompletableFuture<Void> write = export.write(0, Unpooled.wrappedBuffer(new byte[4096]), false);
    CompletableFuture<Void> flush = export.flush();

    CompletableFuture<Void> drained = export.fence("switchover in progress");
    assertThat(drained)
        .as("writes are still in flight: the fence must not report them drained")
        .isNotDone();
    assertThat(export.fenced()).isEqualTo("switchover in progress");

    CompletableFuture<Void> refused = export.trim(0, 4096, false);
    assertThatThrownBy(refused::join)
        .as("a trim while fenced is refused with EPERM and the reason")
        .isInstanceOf(CompletionException.class)
        .cause()
        .isInstanceOf(DeviceException.class)
        .hasMessageContaining("switchover in progress")
        .satisfies(e -> assertThat(((DeviceException) e).error()).isEqualTo(DeviceError.EPERM));
    assertThat(held.pending).as("the refused trim never reached the device").hasSize(2);

    held.pending.get(0).complete(null);
    assertThat(write).isDone();
    assertThat(drained).as("the flush is still in flight").isNotDone();
    held.pending.get(1).complete(null);
    assertThat(flush).isDone();
    assertThat(drained).as("nothing in flight any more").isCompleted();
  }

  @Test
  void fenceWithNothingInFlightIsDrainedAtOnceAndUnfenceTakesWritesAgain() {
    HeldDevice held = new HeldDevice();
    SwitchableDevice export = new SwitchableDevice(held);
    assertThat(export.fence("failback in progress")).isCompleted();

    export.unfence();
    assertThat(export.fenced()).isNull();
    CompletableFuture<Void> write = export.write(0, Unpooled.wrappedBuffer(new byte[4096]), false);
    assertThat(held.pending).as("the write reached the device after unfence").hasSize(1);
    held.pending.get(0).complete(null);
    assertThat(write).isCompleted();
  }
}
