package io.kagami.replicator.nbd;

import io.kagami.clock.SystemTime;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * Collects what the NBD server logs (System.Logger is backed by java.util.logging here) so tests
 * can check the one line a bad connection is worth, and waits for lines logged on event-loop
 * threads without sleeping.
 */
final class LogCapture extends Handler implements AutoCloseable {
  private static final SimpleFormatter FORMAT = new SimpleFormatter();
  private final Logger logger;
  private final Level previous;
  private final List<String> lines = new ArrayList<>();

  private LogCapture(String name) {
    this.logger = Logger.getLogger(name);
    this.previous = logger.getLevel();
    logger.setLevel(Level.ALL);
    setLevel(Level.ALL);
    logger.addHandler(this);
  }

  /** Everything the NBD package logs, at every level. */
  static LogCapture nbd() {
    return new LogCapture("io.kagami.replicator.nbd");
  }

  /** What Netty logs, which includes the leak detector's reports. */
  static LogCapture netty() {
    return new LogCapture("io.netty");
  }

  @Override
  public synchronized void publish(LogRecord record) {
    lines.add(
        record.getLevel() + " " + record.getLoggerName() + ": " + FORMAT.formatMessage(record));
    notifyAll();
  }

  synchronized List<String> lines() {
    return List.copyOf(lines);
  }

  /** Lines containing {@code text}. */
  synchronized List<String> matching(String text) {
    return lines.stream().filter(l -> l.contains(text)).toList();
  }

  /** Waits up to 10 s for a line satisfying {@code p}; returns it or fails with what was logged. */
  synchronized String await(Predicate<String> p, String what) throws InterruptedException {
    long deadline = SystemTime.NANO.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      for (String l : lines) {
        if (p.test(l)) {
          return l;
        }
      }
      long left = deadline - SystemTime.NANO.nanoTime();
      if (left <= 0) {
        throw new AssertionError(
            "no log line " + what + " within 10 s; logged:\n" + String.join("\n", lines));
      }
      TimeUnit.NANOSECONDS.timedWait(this, left);
    }
  }

  /**
   * Best effort: lets the garbage collector find unreleased buffers and the leak detector (paranoid
   * in tests) report them, then fails if it did. Buffers only count once they are unreachable.
   */
  void assertNoLeakReported() {
    for (int i = 0; i < 3; i++) {
      System.gc();
      for (int j = 0; j < 64; j++) {
        // Tracking a new buffer is what makes the detector report collected leaked ones.
        ByteBuf b = PooledByteBufAllocator.DEFAULT.directBuffer(16);
        b.release();
      }
    }
    List<String> leaks = matching("LEAK");
    if (!leaks.isEmpty()) {
      throw new AssertionError("Netty reported leaked buffers:\n" + String.join("\n", leaks));
    }
  }

  @Override
  public void flush() {}

  @Override
  public void close() {
    logger.removeHandler(this);
    logger.setLevel(previous);
  }
}
