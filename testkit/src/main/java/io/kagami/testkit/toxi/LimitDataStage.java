package io.kagami.testkit.toxi;

import io.kagami.testkit.toxi.StreamItem.Data;
import io.kagami.testkit.toxi.StreamItem.End;
import java.util.Arrays;

/** Passes {@code bytes} bytes in total on this connection and direction, then closes. */
final class LimitDataStage extends ToxicStage {
  private long limitBytes;
  private long transmittedBytes; // kept across updates, as Toxiproxy's per-connection state

  @Override
  void configure(ToxicSpec spec, long now) {
    limitBytes = spec.attribute("bytes");
  }

  @Override
  boolean step(long now, Output out) {
    boolean moved = false;
    while (!input.isEmpty() && out.hasRoom()) {
      StreamItem next = input.poll();
      moved = true;
      if (!(next instanceof Data data)) {
        out.put(next);
        return true;
      }
      long remaining = Math.max(0, limitBytes - transmittedBytes);
      int passed = (int) Math.min(remaining, data.bytes().length);
      if (passed > 0) {
        out.put(
            passed == data.bytes().length
                ? data
                : new Data(Arrays.copyOf(data.bytes(), passed), data.timestampNanos()));
        transmittedBytes += passed;
      }
      if (transmittedBytes >= limitBytes) {
        out.put(End.CLOSE); // may exceed the next stage's capacity by one: an end takes no room
        return true;
      }
    }
    return moved;
  }
}
