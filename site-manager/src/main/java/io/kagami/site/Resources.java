package io.kagami.site;

import io.kagami.clock.NanoClock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * What a site acquired and must release: a stack of named {@link AutoCloseable}s closed in reverse
 * order of acquisition, every failure collected rather than the first one ending the close. Role
 * changes add to it while the site runs (a volume's applier, history, sync timer), so it is
 * thread-safe; {@link #closeAll} runs on the closing thread and blocks as long as the resources'
 * own close.
 *
 * <p>Shutdown is bounded: {@link #closeAll} takes a {@link Deadline}, which a resource that waits
 * (pushed with {@link #pushBounded}) receives and must not wait past; every close is timed, and the
 * {@link Closed} report names what the shutdown waited for, so an operator reading the log sees
 * where the seconds went.
 */
final class Resources {
  /** A resource whose close waits for something, never past {@code deadline}. */
  interface Bounded {
    void close(Deadline deadline) throws Exception;
  }

  private record Entry(String name, Bounded close) {}

  /** One resource's close: its name and how long it took. */
  record Waited(String name, Duration took) {}

  /** What {@link #closeAll} did: every failure, and each close that took measurable time. */
  record Closed(List<Exception> failures, List<Waited> waited) {
    /** "a 120 ms, b 3 ms", longest first, those of at least {@code min}; "nothing" when none. */
    String waitedFor(Duration min) {
      List<String> parts = new ArrayList<>();
      waited.stream()
          .filter(w -> w.took().compareTo(min) >= 0)
          .sorted((a, b) -> b.took().compareTo(a.took()))
          .forEach(w -> parts.add(w.name() + " " + w.took().toMillis() + " ms"));
      return parts.isEmpty() ? "nothing" : String.join(", ", parts);
    }
  }

  private final Deque<Entry> stack = new ArrayDeque<>();
  private final NanoClock clock;

  Resources(NanoClock clock) {
    this.clock = clock;
  }

  /** Releases {@code resource}, named by its class, before everything acquired earlier. */
  void push(AutoCloseable resource) {
    push(resource.getClass().getSimpleName(), resource);
  }

  /** Releases {@code resource} (called {@code name} in the shutdown report) before the rest. */
  void push(String name, AutoCloseable resource) {
    pushBounded(name, deadline -> resource.close());
  }

  /** Like {@link #push}, for a resource whose close waits: it gets the shutdown's deadline. */
  synchronized void pushBounded(String name, Bounded resource) {
    stack.push(new Entry(name, resource));
  }

  /** {@link #push} returning its argument, for acquisitions written as one expression. */
  <T extends AutoCloseable> T add(T resource) {
    push(resource);
    return resource;
  }

  /** {@link #push(String, AutoCloseable)} returning its argument. */
  <T extends AutoCloseable> T add(String name, T resource) {
    push(name, resource);
    return resource;
  }

  /**
   * Closes everything, newest first, handing {@code deadline} to the bounded ones; returns every
   * failure (empty when all closed cleanly) and how long each close took.
   */
  Closed closeAll(Deadline deadline) {
    List<Exception> failures = new ArrayList<>();
    List<Waited> waited = new ArrayList<>();
    while (true) {
      Entry next;
      synchronized (this) {
        if (stack.isEmpty()) {
          return new Closed(failures, waited);
        }
        next = stack.pop();
      }
      long start = clock.nanoTime();
      try {
        next.close().close(deadline);
      } catch (Exception e) {
        failures.add(e);
      }
      waited.add(new Waited(next.name(), Duration.ofNanos(clock.nanosSince(start))));
    }
  }
}
