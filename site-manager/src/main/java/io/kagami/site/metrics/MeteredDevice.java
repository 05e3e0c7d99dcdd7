package io.kagami.site.metrics;

import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.ForwardingDevice;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * A {@link BlockDevice} that counts and times every request the NBD server hands it, by operation:
 * from the call to the completion of its future (journal, volume write, and in sync mode the
 * standby). Requests the server refuses at the edge (range, alignment) never reach a device and are
 * not counted here.
 */
final class MeteredDevice extends ForwardingDevice {
  enum Op {
    READ,
    WRITE,
    FLUSH,
    TRIM,
    WRITE_ZEROES;

    String label() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  private record Meters(Timer timer, Counter ok, Counter failed) {}

  private final BlockDevice device;
  private final MeterRegistry registry;
  private final Map<Op, Meters> meters = new EnumMap<>(Op.class);

  MeteredDevice(BlockDevice device, MeterRegistry registry, Tags tags) {
    this.device = device;
    this.registry = registry;
    for (Op op : Op.values()) {
      Tags t = tags.and("op", op.label());
      meters.put(
          op,
          new Meters(
              Timer.builder("kagami.nbd.request")
                  .description("Time from an NBD request reaching the device to its completion")
                  .tags(t)
                  .publishPercentileHistogram()
                  .register(registry),
              Counter.builder("kagami.nbd.requests")
                  .description("NBD requests served by the device, by result")
                  .tags(t.and("result", "ok"))
                  .register(registry),
              Counter.builder("kagami.nbd.requests")
                  .tags(t.and("result", "error"))
                  .register(registry)));
    }
  }

  private <T> CompletableFuture<T> measure(Op op, Supplier<CompletableFuture<T>> call) {
    Meters m = meters.get(op);
    Timer.Sample sample = Timer.start(registry);
    CompletableFuture<T> f = call.get();
    f.whenComplete(
        (v, e) -> {
          sample.stop(m.timer());
          (e == null ? m.ok() : m.failed()).increment();
        });
    return f;
  }

  @Override
  protected BlockDevice delegate() {
    return device;
  }

  @Override
  public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
    return measure(Op.READ, () -> device.read(offset, length, alloc));
  }

  @Override
  public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
    return measure(Op.WRITE, () -> device.write(offset, data, fua));
  }

  @Override
  public CompletableFuture<Void> writeZeroes(
      long offset, long length, boolean fua, boolean mayTrim) {
    return measure(Op.WRITE_ZEROES, () -> device.writeZeroes(offset, length, fua, mayTrim));
  }

  @Override
  public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
    return measure(Op.TRIM, () -> device.trim(offset, length, fua));
  }

  @Override
  public CompletableFuture<Void> flush() {
    return measure(Op.FLUSH, device::flush);
  }
}
