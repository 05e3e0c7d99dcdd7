package io.kagami.testkit.toxi;

import io.kagami.testkit.toxi.StreamItem.Data;
import io.kagami.testkit.toxi.StreamItem.End;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
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
 */
abstract sealed class ToxicStage {
  final ArrayDeque<StreamItem> input = new ArrayDeque<>();
  private boolean ended;

  /** How many items {@link #input} takes before the previous stage must wait. */
  abstract int capacity();

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
    boolean moved = step(now, out);
    ended = out.ended;
    return moved;
  }

  /** The stage's own rule. */
  abstract boolean step(long now, Output out);

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
  void reconfigure(ToxicSpec spec, boolean active, long now) {}

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
    return switch (spec.type()) {
      case LATENCY -> new Latency(spec, active, random);
      case BANDWIDTH -> new Bandwidth(spec, active);
      case SLOW_CLOSE -> new SlowClose(spec, active);
      case TIMEOUT -> new Timeout(spec, active, now);
      case RESET_PEER -> new ResetPeer(spec, active);
      case SLICER -> new Slicer(spec, active, random, now);
      case LIMIT_DATA -> new LimitData(spec, active);
    };
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

  /** {@code latency} ± {@code jitter} ms after each chunk's arrival; chunks queue meanwhile. */
  static final class Latency extends ToxicStage {
    private final Random random;
    private boolean active;
    private long latencyMillis;
    private long jitterMillis;
    private long headReleaseNanos;
    private boolean headScheduled;

    Latency(ToxicSpec spec, boolean active, Random random) {
      this.random = random;
      reconfigure(spec, active, 0);
    }

    @Override
    int capacity() {
      return 1024; // as Toxiproxy's latency buffer: a link with latency keeps the pipe full
    }

    @Override
    void reconfigure(ToxicSpec spec, boolean active, long now) {
      this.active = active;
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
      if (!active) {
        return passThrough(out);
      }
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

  /** At most {@code rate} KB/s (1 KB = 1000 B), in pieces of at most 100 ms worth each. */
  static final class Bandwidth extends ToxicStage {
    private static final long PIECE_NANOS = 100_000_000L;
    private boolean active;
    private long rateKbPerSecond;
    private Data current;
    private int offset;
    private int pieceLength;
    private long pieceReleaseNanos;
    private long lastReleaseNanos = Long.MIN_VALUE;

    Bandwidth(ToxicSpec spec, boolean active) {
      reconfigure(spec, active, 0);
    }

    @Override
    int capacity() {
      return 1;
    }

    @Override
    void reconfigure(ToxicSpec spec, boolean active, long now) {
      this.active = active;
      rateKbPerSecond = spec.attribute("rate");
      pieceLength = 0; // reschedule the current piece at the new rate
    }

    @Override
    boolean step(long now, Output out) {
      if (!active || rateKbPerSecond <= 0) {
        return flushCurrent(out) | passThrough(out);
      }
      boolean moved = false;
      while (out.hasRoom()) {
        if (current == null) {
          if (input.isEmpty()) {
            break;
          }
          StreamItem next = input.poll();
          moved = true;
          if (!(next instanceof Data data)) {
            out.put(next);
            break;
          }
          current = data;
          offset = 0;
          pieceLength = 0;
        }
        if (pieceLength == 0) {
          // bytes per piece: rate KB/s over 100 ms = rate * 100 bytes (as Toxiproxy splits)
          long maxPiece = Math.max(1, Math.min(Integer.MAX_VALUE, rateKbPerSecond * 100));
          pieceLength = (int) Math.min(current.bytes().length - offset, maxPiece);
          // Time is owed from the previous piece's release when data queued behind it; after an
          // idle gap it starts from the arrival (no credit for idling, as in Toxiproxy).
          long start = lastReleaseNanos == Long.MIN_VALUE ? current.timestampNanos() : Math.max(lastReleaseNanos, current.timestampNanos());
          start = Math.max(start, now - PIECE_NANOS); // never owe more than the pump was late
          pieceReleaseNanos = start + pieceLength * 1_000_000L / rateKbPerSecond;
        }
        if (now - pieceReleaseNanos < 0) {
          break;
        }
        out.put(new Data(Arrays.copyOfRange(current.bytes(), offset, offset + pieceLength), current.timestampNanos()));
        moved = true;
        lastReleaseNanos = pieceReleaseNanos;
        offset += pieceLength;
        pieceLength = 0;
        if (offset == current.bytes().length) {
          current = null;
        }
      }
      return moved;
    }

    private boolean flushCurrent(Output out) {
      if (current == null || !out.hasRoom()) {
        return false;
      }
      out.put(remainder());
      current = null;
      return true;
    }

    private Data remainder() {
      return new Data(Arrays.copyOfRange(current.bytes(), offset, current.bytes().length), current.timestampNanos());
    }

    @Override
    long deadline() {
      return active && current != null && pieceLength > 0 ? pieceReleaseNanos : Long.MAX_VALUE;
    }

    @Override
    List<StreamItem> drainForRemoval() {
      List<StreamItem> held = new ArrayList<>();
      if (current != null) {
        held.add(remainder());
        current = null;
      }
      held.addAll(super.drainForRemoval());
      return held;
    }
  }

  /** Data passes; the end of the stream is held for {@code delay} ms. */
  static final class SlowClose extends ToxicStage {
    private boolean active;
    private long delayMillis;
    private long closeAtNanos;
    private boolean closing;

    SlowClose(ToxicSpec spec, boolean active) {
      reconfigure(spec, active, 0);
    }

    @Override
    int capacity() {
      return 1;
    }

    @Override
    void reconfigure(ToxicSpec spec, boolean active, long now) {
      this.active = active;
      delayMillis = spec.attribute("delay");
      closing = false;
    }

    @Override
    boolean step(long now, Output out) {
      boolean moved = false;
      while (!input.isEmpty() && out.hasRoom()) {
        if (active && input.peek() instanceof End) {
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

  /**
   * Drops all data; closes after {@code timeout} ms from when it started on this connection, or
   * never with 0. Removing it closes the connection (Toxiproxy's {@code Cleanup} does the same).
   */
  static final class Timeout extends ToxicStage {
    private boolean active;
    private long timeoutMillis;
    private long startedNanos;

    Timeout(ToxicSpec spec, boolean active, long now) {
      reconfigure(spec, active, now);
    }

    @Override
    int capacity() {
      return 1;
    }

    @Override
    void reconfigure(ToxicSpec spec, boolean active, long now) {
      this.active = active;
      timeoutMillis = spec.attribute("timeout");
      startedNanos = now; // Toxiproxy restarts the toxic on update, and with it the timer
    }

    @Override
    boolean step(long now, Output out) {
      if (!active) {
        return passThrough(out);
      }
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
      if (timeoutMillis > 0 && now - (startedNanos + timeoutMillis * 1_000_000L) >= 0 && out.hasRoom()) {
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

  /** On the first data, waits {@code timeout} ms and then resets the connection; data is dropped. */
  static final class ResetPeer extends ToxicStage {
    private boolean active;
    private long timeoutMillis;
    private boolean triggered;
    private long resetAtNanos;

    ResetPeer(ToxicSpec spec, boolean active) {
      reconfigure(spec, active, 0);
    }

    @Override
    int capacity() {
      return 1;
    }

    @Override
    void reconfigure(ToxicSpec spec, boolean active, long now) {
      this.active = active;
      timeoutMillis = spec.attribute("timeout");
    }

    @Override
    boolean step(long now, Output out) {
      if (!active) {
        return passThrough(out);
      }
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

  /** Cuts each chunk into pieces of {@code average_size} ± {@code size_variation}, {@code delay} µs apart. */
  static final class Slicer extends ToxicStage {
    private final Random random;
    private boolean active;
    private int averageSize;
    private int sizeVariation;
    private long delayNanos;
    private Data current;
    private int[] cuts;
    private int nextCut;
    private long nextPieceNanos;

    Slicer(ToxicSpec spec, boolean active, Random random, long now) {
      this.random = random;
      this.nextPieceNanos = now;
      reconfigure(spec, active, 0);
    }

    @Override
    int capacity() {
      return 1;
    }

    @Override
    void reconfigure(ToxicSpec spec, boolean active, long now) {
      this.active = active;
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
      if (!active) {
        boolean moved = false;
        if (current != null && out.hasRoom()) {
          out.put(remainder());
          current = null;
          moved = true;
        }
        return moved | passThrough(out);
      }
      boolean moved = false;
      while (out.hasRoom() && now - nextPieceNanos >= 0) {
        if (current == null) {
          if (input.isEmpty()) {
            break;
          }
          StreamItem next = input.poll();
          moved = true;
          if (!(next instanceof Data data)) {
            out.put(next);
            break;
          }
          current = data;
          cuts = cuts(data.bytes().length);
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

    private Data remainder() {
      int from = cuts[nextCut];
      return new Data(Arrays.copyOfRange(current.bytes(), from, current.bytes().length), current.timestampNanos());
    }

    @Override
    long deadline() {
      return active && (current != null || !input.isEmpty()) ? nextPieceNanos : Long.MAX_VALUE;
    }

    @Override
    List<StreamItem> drainForRemoval() {
      List<StreamItem> held = new ArrayList<>();
      if (current != null) {
        held.add(remainder());
        current = null;
      }
      held.addAll(super.drainForRemoval());
      return held;
    }
  }

  /** Passes {@code bytes} bytes in total on this connection and direction, then closes. */
  static final class LimitData extends ToxicStage {
    private boolean active;
    private long limitBytes;
    private long transmittedBytes; // kept across updates, as Toxiproxy's per-connection state

    LimitData(ToxicSpec spec, boolean active) {
      reconfigure(spec, active, 0);
    }

    @Override
    int capacity() {
      return 1;
    }

    @Override
    void reconfigure(ToxicSpec spec, boolean active, long now) {
      this.active = active;
      limitBytes = spec.attribute("bytes");
    }

    @Override
    boolean step(long now, Output out) {
      if (!active) {
        return passThrough(out);
      }
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
          out.put(passed == data.bytes().length ? data : new Data(Arrays.copyOf(data.bytes(), passed), data.timestampNanos()));
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
}
