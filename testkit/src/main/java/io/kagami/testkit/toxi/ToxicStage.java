package io.kagami.testkit.toxi;

import io.kagami.testkit.toxi.StreamItem.End;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * One toxic acting on one direction of one connection: a step in a {@link ToxicLink}'s chain.
 *
 * <p>A stage is a passive state machine, driven by its link's pump thread under the link's lock:
 * {@link #advance} moves whatever is due at {@code now} into the next stage's input (as far as it
 * has room: that is how back-pressure reaches the socket reader), {@link #deadline} says when it
 * next has something to do. No stage owns a thread or sleeps, so adding, removing or changing a
 * toxic on a live connection is a quick, synchronous edit of the chain.
 *
 * <p>Behaviour follows Toxiproxy's toxics (toxics/*.go): the same attributes, the same timing
 * rules, and the same treatment of data still held when a toxic is removed (handed on, never
 * dropped — except by {@code timeout}, whose removal closes the connection as Toxiproxy's does).
 * The toxicity draw happens once per stage (per connection and direction) when it is created or
 * updated; a stage that drew "inactive" passes data through untouched.
 *
 * <p>This class is the contract and the chain's head ({@link Inbox}); each toxic's rule is its own
 * class ({@code LatencyStage}, {@code BandwidthStage}, ...), named after Toxiproxy's toxic, and
 * those that cut chunks into pieces share {@link PieceStage}.
 */
abstract sealed class ToxicStage
    permits ToxicStage.Inbox,
        LatencyStage,
        PieceStage,
        SlowCloseStage,
        TimeoutStage,
        ResetPeerStage,
        LimitDataStage {
  final ArrayDeque<StreamItem> input = new ArrayDeque<>();

  /** The toxicity draw: an inactive stage passes data through untouched. */
  boolean active;

  private boolean ended;

  /**
   * How many items {@link #input} takes before the previous stage must wait: one for most toxics,
   * as Toxiproxy's unbuffered channels between toxics.
   */
  int capacity() {
    return 1;
  }

  boolean hasRoom() {
    return input.size() < capacity();
  }

  /** Moves what is due at {@code now} into {@code next}; returns whether anything moved. */
  final boolean advance(long now, ArrayDeque<StreamItem> next, int nextCapacity) {
    if (ended) {
      // After the stream ended here, later input has nowhere to go (Toxiproxy closes the stub).
      boolean dropped = !input.isEmpty();
      input.clear();
      return dropped;
    }
    Output out = new Output(next, nextCapacity);
    boolean moved = active ? step(now, out) : passUntouched(out);
    ended = out.ended;
    return moved;
  }

  /** The stage's own rule, while it is active. */
  abstract boolean step(long now, Output out);

  /** What the stage does while inactive: hands on what it holds, untouched. */
  boolean passUntouched(Output out) {
    return passThrough(out);
  }

  /** When this stage next has work without new input; {@link Long#MAX_VALUE} if none. */
  long deadline() {
    return Long.MAX_VALUE;
  }

  /** Items to hand to the next stage when the toxic is removed, in stream order. */
  List<StreamItem> drainForRemoval() {
    List<StreamItem> held = new ArrayList<>(input);
    input.clear();
    return held;
  }

  /** The toxic's attributes or toxicity changed: apply them, keeping per-connection state. */
  final void reconfigure(ToxicSpec spec, boolean active, long now) {
    this.active = active;
    configure(spec, now);
  }

  /** Reads the toxic's attributes from {@code spec}; called on creation and on every update. */
  void configure(ToxicSpec spec, long now) {}

  /** Passes items on unchanged as far as there is room. */
  final boolean passThrough(Output out) {
    boolean moved = false;
    while (!input.isEmpty() && out.hasRoom()) {
      out.put(input.poll());
      moved = true;
    }
    return moved;
  }

  /** The input of the next stage (or the link's outbox), seen through its capacity. */
  static final class Output {
    private final ArrayDeque<StreamItem> queue;
    private final int capacity;
    private boolean ended;

    Output(ArrayDeque<StreamItem> queue, int capacity) {
      this.queue = queue;
      this.capacity = capacity;
    }

    boolean hasRoom() {
      return queue.size() < capacity;
    }

    void put(StreamItem item) {
      queue.add(item);
      if (item instanceof End) {
        ended = true;
      }
    }
  }

  /** Builds the stage for {@code spec}; {@code random} draws toxicity, jitter and slice sizes. */
  static ToxicStage create(ToxicSpec spec, Random random, long now) {
    boolean active = random.nextFloat() < spec.toxicity();
    ToxicStage stage =
        switch (spec.type()) {
          case LATENCY -> new LatencyStage(random);
          case BANDWIDTH -> new BandwidthStage();
          case SLOW_CLOSE -> new SlowCloseStage();
          case TIMEOUT -> new TimeoutStage();
          case RESET_PEER -> new ResetPeerStage();
          case SLICER -> new SlicerStage(random, now);
          case LIMIT_DATA -> new LimitDataStage();
        };
    stage.reconfigure(spec, active, now);
    return stage;
  }

  /** The chain's fixed head: the socket reader's inbox. */
  static final class Inbox extends ToxicStage {
    @Override
    int capacity() {
      return 2;
    }

    @Override
    boolean step(long now, Output out) {
      return passThrough(out);
    }
  }
}
