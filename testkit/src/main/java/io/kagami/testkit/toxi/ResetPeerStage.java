package io.kagami.testkit.toxi;

import io.kagami.testkit.toxi.StreamItem.End;
import java.util.List;

/** On the first data, waits {@code timeout} ms and then resets the connection; data is dropped. */
final class ResetPeerStage extends ToxicStage {
  private long timeoutMillis;
  private boolean triggered;
  private long resetAtNanos;

  @Override
  void configure(ToxicSpec spec, long now) {
    timeoutMillis = spec.attribute("timeout");
  }

  @Override
  boolean step(long now, Output out) {
    boolean moved = false;
    while (!input.isEmpty()) {
      input.poll();
      moved = true;
      if (!triggered) {
        triggered = true;
        resetAtNanos = now + timeoutMillis * 1_000_000L;
      }
    }
    if (triggered && now - resetAtNanos >= 0 && out.hasRoom()) {
      out.put(End.RESET);
      moved = true;
    }
    return moved;
  }

  @Override
  long deadline() {
    return active && triggered ? resetAtNanos : Long.MAX_VALUE;
  }

  @Override
  List<StreamItem> drainForRemoval() {
    // Once triggered, Toxiproxy's reset cannot be interrupted: the connection is reset anyway.
    if (active && triggered) {
      input.clear();
      return List.of(End.RESET);
    }
    return super.drainForRemoval();
  }
}
