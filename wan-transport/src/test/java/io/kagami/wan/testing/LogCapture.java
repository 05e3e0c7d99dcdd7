package io.kagami.wan.testing;

import java.text.MessageFormat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** Collects what the given classes log through System.Logger (backed by java.util.logging). */
public final class LogCapture extends Handler implements AutoCloseable {
  private final List<Logger> loggers = new ArrayList<>(); // strong references: JUL keeps weak ones
  private final List<String> lines = new ArrayList<>(); // guarded by lock
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition added = lock.newCondition();

  public LogCapture(Class<?>... classes) {
    setLevel(Level.ALL);
    for (Class<?> c : classes) {
      Logger l = Logger.getLogger(c.getName());
      l.addHandler(this);
      loggers.add(l);
    }
  }

  @Override
  public void publish(LogRecord r) {
    String text =
        r.getParameters() == null || r.getParameters().length == 0
            ? r.getMessage()
            : MessageFormat.format(r.getMessage(), r.getParameters());
    lock.lock();
    try {
      lines.add(r.getLevel() + " " + text);
      added.signalAll();
    } finally {
      lock.unlock();
    }
  }

  public List<String> lines() {
    lock.lock();
    try {
      return List.copyOf(lines);
    } finally {
      lock.unlock();
    }
  }

  /** The first line containing {@code fragment}; fails after {@code timeout}. */
  public String await(String fragment, Duration timeout) throws InterruptedException {
    long left = timeout.toNanos();
    lock.lock();
    try {
      while (true) {
        for (String l : lines) {
          if (l.contains(fragment)) {
            return l;
          }
        }
        if (left <= 0) {
          throw new AssertionError(
              "nothing logged containing \""
                  + fragment
                  + "\" within "
                  + timeout
                  + "; logged:\n  "
                  + String.join("\n  ", lines));
        }
        left = added.awaitNanos(left);
      }
    } finally {
      lock.unlock();
    }
  }

  public int count(String fragment) {
    return (int) lines().stream().filter(l -> l.contains(fragment)).count();
  }

  /** Waits for {@code n} lines containing {@code fragment}. */
  public void awaitCount(String fragment, int n, Duration timeout) throws InterruptedException {
    long left = timeout.toNanos();
    lock.lock();
    try {
      while (lines.stream().filter(l -> l.contains(fragment)).count() < n) {
        if (left <= 0) {
          throw new AssertionError(
              n
                  + " lines containing \""
                  + fragment
                  + "\" expected within "
                  + timeout
                  + "; logged:\n  "
                  + String.join("\n  ", lines));
        }
        left = added.awaitNanos(left);
      }
    } finally {
      lock.unlock();
    }
  }

  @Override
  public void flush() {}

  @Override
  public void close() {
    for (Logger l : loggers) {
      l.removeHandler(this);
    }
  }
}
