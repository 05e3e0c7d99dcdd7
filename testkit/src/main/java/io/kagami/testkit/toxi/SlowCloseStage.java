package io.kagami.testkit.toxi;

import io.kagami.testkit.toxi.StreamItem.End;

/** Data passes; the end of the stream is held for {@code delay} ms. */
final class SlowCloseStage extends ToxicStage {
  private long delayMillis;
  private long closeAtNanos;
  private boolean closing;

  @Override
  void configure(ToxicSpec spec, long now) {
    delayMillis = spec.attribute("delay");
    closing = false;
  }

  @Override
  boolean step(long now, Output out) {
    boolean moved = false;
    while (!input.isEmpty() && out.hasRoom()) {
      if (input.peek() instanceof End) {
        if (!closing) {
          closing = true;
          closeAtNanos = now + delayMillis * 1_000_000L;
        }
        if (now - closeAtNanos < 0) {
          break;
        }
      }
      out.put(input.poll());
      moved = true;
    }
    return moved;
  }

  @Override
  long deadline() {
    return active && closing ? closeAtNanos : Long.MAX_VALUE;
  }
}
