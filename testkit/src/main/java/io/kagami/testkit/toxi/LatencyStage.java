package io.kagami.testkit.toxi;

import io.kagami.testkit.toxi.StreamItem.Data;
import java.util.Random;

/** {@code latency} ± {@code jitter} ms after each chunk's arrival; chunks queue meanwhile. */
final class LatencyStage extends ToxicStage {
  private final Random random;
  private long latencyMillis;
  private long jitterMillis;
  private long headReleaseNanos;
  private boolean headScheduled;

  LatencyStage(Random random) {
    this.random = random;
  }

  @Override
  int capacity() {
    return 1024; // as Toxiproxy's latency buffer: a link with latency keeps the pipe full
  }

  @Override
  void configure(ToxicSpec spec, long now) {
    latencyMillis = spec.attribute("latency");
    jitterMillis = spec.attribute("jitter");
    headScheduled = false; // Toxiproxy interrupts the wait; the head is rescheduled by the new rule
  }

  private long delayNanos() {
    long delay = latencyMillis;
    if (jitterMillis > 0) {
      delay += random.nextLong(2 * jitterMillis) - jitterMillis;
    }
    return delay * 1_000_000L;
  }

  @Override
  boolean step(long now, Output out) {
    boolean moved = false;
    while (!input.isEmpty() && out.hasRoom()) {
      if (!(input.peek() instanceof Data head)) {
        out.put(input.poll());
        return true;
      }
      if (!headScheduled) {
        headReleaseNanos = head.timestampNanos() + delayNanos();
        headScheduled = true;
      }
      if (now - headReleaseNanos < 0) {
        break;
      }
      input.poll();
      headScheduled = false;
      out.put(new Data(head.bytes(), Math.max(head.timestampNanos(), headReleaseNanos)));
      moved = true;
    }
    return moved;
  }

  @Override
  long deadline() {
    return active && headScheduled && !input.isEmpty() ? headReleaseNanos : Long.MAX_VALUE;
  }
}
