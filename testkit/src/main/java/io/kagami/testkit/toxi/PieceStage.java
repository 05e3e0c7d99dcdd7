package io.kagami.testkit.toxi;

import io.kagami.testkit.toxi.StreamItem.Data;
import java.util.ArrayList;
import java.util.List;

/**
 * A toxic that cuts each chunk into pieces and releases them over time ({@code bandwidth}, {@code
 * slicer}): the chunk being cut is {@link #current}; what is left of it goes on whole, ahead of the
 * queued input, when the stage is inactive or removed.
 */
abstract sealed class PieceStage extends ToxicStage permits BandwidthStage, SlicerStage {
  /** The chunk being cut, or null between chunks. */
  Data current;

  /** What is left of {@link #current}, not yet released. */
  abstract Data remainder();

  /** Whether a chunk is being cut or waits in the input. */
  final boolean holdsData() {
    return current != null || !input.isEmpty();
  }

  /**
   * Takes the next input item (the caller saw one): a chunk becomes {@link #current} (true); an end
   * of stream is passed on (false).
   */
  final boolean takeChunk(Output out) {
    StreamItem next = input.poll();
    if (!(next instanceof Data data)) {
      out.put(next);
      return false;
    }
    current = data;
    return true;
  }

  /** Hands on what is left of the current chunk first, as far as there is room. */
  @Override
  final boolean passUntouched(Output out) {
    boolean moved = false;
    if (current != null && out.hasRoom()) {
      out.put(remainder());
      current = null;
      moved = true;
    }
    return moved | passThrough(out);
  }

  @Override
  final List<StreamItem> drainForRemoval() {
    List<StreamItem> held = new ArrayList<>();
    if (current != null) {
      held.add(remainder());
      current = null;
    }
    held.addAll(super.drainForRemoval());
    return held;
  }
}
