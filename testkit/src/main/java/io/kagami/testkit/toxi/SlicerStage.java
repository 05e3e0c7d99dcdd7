package io.kagami.testkit.toxi;

import io.kagami.testkit.toxi.StreamItem.Data;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Cuts each chunk into pieces of {@code average_size} ± {@code size_variation}, {@code delay} µs
 * apart.
 */
final class SlicerStage extends PieceStage {
  private final Random random;
  private int averageSize;
  private int sizeVariation;
  private long delayNanos;
  private int[] cuts;
  private int nextCut;
  private long nextPieceNanos;

  SlicerStage(Random random, long now) {
    this.random = random;
    this.nextPieceNanos = now;
  }

  @Override
  void configure(ToxicSpec spec, long now) {
    averageSize = (int) Math.min(Integer.MAX_VALUE, spec.attribute("average_size"));
    sizeVariation = (int) Math.min(Integer.MAX_VALUE - 1, spec.attribute("size_variation"));
    delayNanos = spec.attribute("delay") * 1_000L;
    if (current != null) {
      // Re-slice what is left of the current chunk by the new sizes.
      current = remainder();
      cuts = cuts(current.bytes().length);
      nextCut = 0;
    }
  }

  @Override
  boolean step(long now, Output out) {
    boolean moved = false;
    while (out.hasRoom() && now - nextPieceNanos >= 0 && holdsData()) {
      if (current == null) {
        moved = true;
        if (!takeChunk(out)) {
          break;
        }
        cuts = cuts(current.bytes().length);
        nextCut = 0;
      }
      int from = cuts[nextCut];
      int to = cuts[nextCut + 1];
      nextCut += 1;
      if (to > from) {
        out.put(new Data(Arrays.copyOfRange(current.bytes(), from, to), current.timestampNanos()));
        moved = true;
        // Toxiproxy waits the delay after every piece, the last one of a chunk included.
        nextPieceNanos = now + delayNanos;
      }
      if (nextCut == cuts.length - 1) {
        current = null;
      }
    }
    return moved;
  }

  /** Piece boundaries of {@code length} bytes: Toxiproxy's recursive halving, flattened. */
  private int[] cuts(int length) {
    List<Integer> boundaries = new ArrayList<>();
    boundaries.add(0);
    split(0, length, boundaries);
    return boundaries.stream().mapToInt(Integer::intValue).toArray();
  }

  private void split(int start, int end, List<Integer> boundaries) {
    if ((end - start) - averageSize <= sizeVariation) {
      boundaries.add(end);
      return;
    }
    int mid = start + (end - start) / 2;
    if (sizeVariation > 0) {
      mid += random.nextInt(sizeVariation * 2) - sizeVariation;
    }
    split(start, mid, boundaries);
    split(mid, end, boundaries);
  }

  @Override
  Data remainder() {
    int from = cuts[nextCut];
    return new Data(
        Arrays.copyOfRange(current.bytes(), from, current.bytes().length),
        current.timestampNanos());
  }

  @Override
  long deadline() {
    return active && holdsData() ? nextPieceNanos : Long.MAX_VALUE;
  }
}
