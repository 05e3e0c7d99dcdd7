package io.kagami.testkit.toxi;

import io.kagami.clock.SystemTime;
import io.kagami.testkit.toxi.StreamItem.Data;
import io.kagami.testkit.toxi.StreamItem.End;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One direction of one proxied connection: reads the source socket, passes the bytes through the
 * chain of {@link ToxicStage}s of that direction, and writes what comes out to the destination.
 *
 * <p>Two virtual threads: a reader (blocking socket reads, chunks of up to 32 KiB as Toxiproxy's
 * {@code io.Copy}) that waits while the chain's inbox is full, so a slow toxic pushes back on the
 * sender through TCP; and a pump that advances the stages by time and writes to the destination.
 * The chain is guarded by one lock; toxic changes edit it under that lock and wake the pump, so
 * they take effect on live connections immediately, and data a removed toxic still held goes on.
 *
 * <p>The end of the stream (EOF or error from the source, or a toxic closing) travels through the
 * chain like data, so delayed data is written before it. Reaching the destination it closes that
 * socket entirely — as Toxiproxy does, there is no half-close — which in turn ends the other
 * direction; a reset closes both sockets with SO_LINGER 0 (RST).
 */
final class ToxicLink {
  private static final int READ_CHUNK = 32 * 1024;
  private static final int OUTBOX_CAPACITY = 1;

  private final StreamDirection direction;
  private final Socket source;
  private final Socket destination;
  private final ProxiedConnection connection;
  private final Random random;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final ToxicStage.Inbox inbox = new ToxicStage.Inbox();
  private final List<ToxicStage> toxics = new ArrayList<>();
  private final List<String> toxicNames = new ArrayList<>();
  private final ArrayDeque<StreamItem> outbox = new ArrayDeque<>();
  private boolean finished;

  ToxicLink(
      StreamDirection direction,
      Socket source,
      Socket destination,
      ProxiedConnection connection,
      Random random,
      List<ToxicSpec> chain) {
    this.direction = direction;
    this.source = source;
    this.destination = destination;
    this.connection = connection;
    this.random = random;
    long now = SystemTime.NANO.nanoTime();
    for (ToxicSpec spec : chain) {
      toxics.add(ToxicStage.create(spec, random, now));
      toxicNames.add(spec.name());
    }
  }

  StreamDirection direction() {
    return direction;
  }

  void start(String threadPrefix) {
    String side = direction.wireName();
    Thread.ofVirtual().name(threadPrefix + "-" + side + "-reader").start(this::readSource);
    Thread.ofVirtual().name(threadPrefix + "-" + side + "-pump").start(this::pump);
  }

  /** Appends a toxic to the end of this link's chain (as Toxiproxy: new toxics go last). */
  void addToxic(ToxicSpec spec) {
    lock.lock();
    try {
      toxics.add(ToxicStage.create(spec, random, SystemTime.NANO.nanoTime()));
      toxicNames.add(spec.name());
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** New attributes or toxicity: toxicity is drawn again, per-connection state is kept. */
  void updateToxic(ToxicSpec spec) {
    lock.lock();
    try {
      int index = toxicNames.indexOf(spec.name());
      if (index >= 0) {
        toxics
            .get(index)
            .reconfigure(spec, random.nextFloat() < spec.toxicity(), SystemTime.NANO.nanoTime());
        changed.signalAll();
      }
    } finally {
      lock.unlock();
    }
  }

  /** Removes a toxic; whatever it held is handed to the next stage, in order. */
  void removeToxic(String name) {
    lock.lock();
    try {
      int index = toxicNames.indexOf(name);
      if (index < 0) {
        return;
      }
      ToxicStage removed = toxics.remove(index);
      toxicNames.remove(index);
      List<StreamItem> held = removed.drainForRemoval();
      // The next stage already holds older items from this one, so the held ones go behind them.
      ArrayDeque<StreamItem> next = index < toxics.size() ? toxics.get(index).input : outbox;
      next.addAll(held);
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Stops the pump and the reader's waiting; the connection closes the sockets. */
  void stop() {
    lock.lock();
    try {
      finished = true;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private void readSource() {
    byte[] buffer = new byte[READ_CHUNK];
    try {
      InputStream in = source.getInputStream();
      while (true) {
        int n = in.read(buffer);
        if (n < 0) {
          break;
        }
        if (!offer(new Data(Arrays.copyOf(buffer, n), SystemTime.NANO.nanoTime()))) {
          return;
        }
      }
    } catch (IOException closedOrReset) {
      // Toxiproxy treats a read error like EOF: the stream of this direction ends.
    }
    offer(End.CLOSE);
  }

  private boolean offer(StreamItem item) {
    lock.lock();
    try {
      while (!finished && !inbox.hasRoom()) {
        changed.awaitUninterruptibly();
      }
      if (finished) {
        return false;
      }
      inbox.input.add(item);
      changed.signalAll();
      return true;
    } finally {
      lock.unlock();
    }
  }

  private void pump() {
    lock.lock();
    try {
      while (!finished) {
        long now = SystemTime.NANO.nanoTime();
        advanceAll(now);
        StreamItem item = outbox.poll();
        if (item != null) {
          changed.signalAll();
          lock.unlock();
          try {
            deliver(item);
          } finally {
            lock.lock();
          }
          continue;
        }
        long deadline = earliestDeadline(now);
        if (deadline == Long.MAX_VALUE) {
          changed.awaitUninterruptibly();
        } else {
          awaitNanos(deadline - now);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  private void awaitNanos(long nanos) {
    try {
      changed.awaitNanos(nanos);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      finished = true;
    }
  }

  /** Moves items down the chain until nothing more is due (last stages first, to make room). */
  private void advanceAll(long now) {
    boolean anyProgress = false;
    boolean progress;
    do {
      progress = false;
      for (int i = toxics.size(); i >= 0; i--) {
        ToxicStage stage = i == 0 ? inbox : toxics.get(i - 1);
        if (i < toxics.size()) {
          ToxicStage next = toxics.get(i);
          progress |= stage.advance(now, next.input, next.capacity());
        } else {
          progress |= stage.advance(now, outbox, OUTBOX_CAPACITY);
        }
      }
      anyProgress |= progress;
    } while (progress && outbox.isEmpty());
    if (anyProgress) {
      changed.signalAll(); // the reader may have room again
    }
  }

  private long earliestDeadline(long now) {
    long earliest = Long.MAX_VALUE;
    for (ToxicStage stage : toxics) {
      long deadline = stage.deadline();
      // A deadline already passed means the stage waits for room downstream, not for time.
      if (deadline != Long.MAX_VALUE
          && deadline - now > 0
          && (earliest == Long.MAX_VALUE || deadline - earliest < 0)) {
        earliest = deadline;
      }
    }
    return earliest;
  }

  /** Runs on the pump thread without the lock: may block on the destination's flow control. */
  private void deliver(StreamItem item) {
    switch (item) {
      case Data data -> {
        try {
          OutputStream out = destination.getOutputStream();
          out.write(data.bytes());
        } catch (IOException peerGone) {
          stop();
          connection.close();
        }
      }
      case End.CLOSE -> {
        stop();
        connection.closeSocket(destination);
        connection.linkFinished();
      }
      case End.RESET -> {
        stop();
        connection.reset();
      }
    }
  }
}
