package io.kagami.testkit.toxi;

import io.kagami.testkit.toxi.StreamItem.End;
import java.util.List;

/**
 * Drops all data; closes after {@code timeout} ms from when it started on this connection, or never
 * with 0. Removing it closes the connection (Toxiproxy's {@code Cleanup} does the same).
 */
final class TimeoutStage extends ToxicStage {
  private long timeoutMillis;
  private long startedNanos;

  @Override
  void configure(ToxicSpec spec, long now) {
    timeoutMillis = spec.attribute("timeout");
    startedNanos = now; // Toxiproxy restarts the toxic on update, and with it the timer
  }

  @Override
  boolean step(long now, Output out) {
    boolean moved = false;
    while (!input.isEmpty()) {
      if (input.peek() instanceof End) {
        if (!out.hasRoom()) {
          return moved;
        }
        out.put(input.poll());
        return true;
      }
      input.poll(); // data is dropped on the ground, as in Toxiproxy
      moved = true;
    }
    if (timeoutMillis > 0
        && now - (startedNanos + timeoutMillis * 1_000_000L) >= 0
        && out.hasRoom()) {
      out.put(End.CLOSE);
      moved = true;
    }
    return moved;
  }

  @Override
  long deadline() {
    return active && timeoutMillis > 0 ? startedNanos + timeoutMillis * 1_000_000L : Long.MAX_VALUE;
  }

  @Override
  List<StreamItem> drainForRemoval() {
    if (!active) {
      return super.drainForRemoval();
    }
    input.clear();
    return List.of(End.CLOSE);
  }
}
