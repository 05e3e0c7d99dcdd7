package io.kagami.site.failover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.clock.SystemTime;
import io.kagami.failover.heartbeat.Heartbeat;
import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.DeviceError;
import io.kagami.replicator.volume.DeviceException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

/**
 * The write gate: writes refused with EIO while fenced, and not acknowledged when the fence closes
 * mid-write.
 */
class FencedDeviceTest {
  /** A device whose writes complete when the test says so. */
  private static final class HeldDevice implements BlockDevice {
    CompletableFuture<Void> pending = new CompletableFuture<>();
    int writes;
    boolean readOnly;

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
      return readOnly;
    }

    @Override
    public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
      return CompletableFuture.completedFuture(alloc.buffer(length).writeZero(length));
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
      data.release();
      writes++;
      return readOnly
          ? CompletableFuture.failedFuture(new DeviceException(DeviceError.EPERM, "read-only"))
          : pending;
    }

    @Override
    public CompletableFuture<Void> writeZeroes(
        long offset, long length, boolean fua, boolean mayTrim) {
      return pending;
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
      return pending;
    }

    @Override
    public CompletableFuture<Void> flush() {
      return pending;
    }
  }

  private static DeviceError errorOf(CompletableFuture<?> f) {
    assertThat(f).isCompletedExceptionally();
    try {
      f.join();
    } catch (CompletionException e) {
      return ((DeviceException) e.getCause()).error();
    }
    throw new AssertionError("not failed");
  }

  @Test
  void aClosedFenceRefusesEveryModificationWithEioAndReleasesTheData() {
    HeldDevice dev = new HeldDevice();
    WriteFence fence = new WriteFence("no lease evidence yet");
    FencedDevice fenced = new FencedDevice(dev, fence);
    ByteBuf data = Unpooled.buffer(4096).writeZero(4096);
    CompletableFuture<Void> w = fenced.write(0, data, false);
    assertThat(errorOf(w)).isEqualTo(DeviceError.EIO);
    assertThat(data.refCnt()).as("refused write's buffer released").isZero();
    assertThat(dev.writes).as("nothing reached the volume").isZero();
    assertThat(errorOf(fenced.flush())).isEqualTo(DeviceError.EIO);
    assertThat(errorOf(fenced.trim(0, 4096, false))).isEqualTo(DeviceError.EIO);
    assertThat(errorOf(fenced.writeZeroes(0, 4096, false, true))).isEqualTo(DeviceError.EIO);
    assertThat(fenced.read(0, 4096, ByteBufAllocator.DEFAULT).join().readableBytes())
        .as("reads pass")
        .isEqualTo(4096);
    assertThatThrownBy(w::join).hasMessageContaining("site fenced (no lease evidence yet)");
  }

  @Test
  void aWriteInFlightWhenTheFenceClosesIsNotAcknowledged() {
    HeldDevice dev = new HeldDevice();
    WriteFence fence = new WriteFence("start");
    fence.openUnlimited();
    FencedDevice fenced = new FencedDevice(dev, fence);
    CompletableFuture<Void> w = fenced.write(0, Unpooled.buffer(4096).writeZero(4096), true);
    assertThat(w).isNotDone();
    fence.close("deposed");
    dev.pending.complete(null);
    assertThat(errorOf(w)).isEqualTo(DeviceError.EIO);
  }

  @Test
  void theDeadlineItselfStopsWritesWithoutAnotherDecision() {
    HeldDevice dev = new HeldDevice();
    dev.pending.complete(null);
    WriteFence fence = new WriteFence("start");
    fence.allowUntil(
        SystemTime.NANO.nanoTime() + Duration.ofHours(1).toNanos(), "lease evidence ran out");
    FencedDevice fenced = new FencedDevice(dev, fence);
    assertThat(fenced.write(0, Unpooled.buffer(4096).writeZero(4096), false)).isCompleted();
    fence.allowUntil(SystemTime.NANO.nanoTime() - 1, "lease evidence ran out");
    assertThat(errorOf(fenced.write(0, Unpooled.buffer(4096).writeZero(4096), false)))
        .isEqualTo(DeviceError.EIO);
    assertThat(fence.reason()).isEqualTo("lease evidence ran out");
  }

  @Test
  void aReadOnlyReplicaKeepsAnsweringEperm() {
    HeldDevice dev = new HeldDevice();
    dev.readOnly = true;
    FencedDevice fenced = new FencedDevice(dev, new WriteFence("standby"));
    assertThat(errorOf(fenced.write(0, Unpooled.buffer(4096).writeZero(4096), false)))
        .isEqualTo(DeviceError.EPERM);
  }

  @Test
  void heartbeatsRoundTripThroughTheirJsonForm() {
    Instant t = Instant.parse("2026-12-01T03:10:41.123456789Z");
    Heartbeat h =
        new Heartbeat("tokyo", 3, true, false, true, t, t.minusMillis(250), Duration.ofSeconds(10));
    assertThat(HeartbeatMessage.of(h).toHeartbeat()).isEqualTo(h);
    Heartbeat noEcho =
        new Heartbeat("tokyo", 0, false, true, false, t, null, Duration.ofSeconds(10));
    assertThat(HeartbeatMessage.of(noEcho).toHeartbeat()).isEqualTo(noEcho);
    assertThatThrownBy(
            () ->
                new HeartbeatMessage(2, "tokyo", 1, true, false, false, t.toString(), null, 1000)
                    .toHeartbeat())
        .hasMessageContaining("version 2 is not supported");
  }
}
