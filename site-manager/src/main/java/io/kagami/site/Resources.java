package io.kagami.site;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/**
 * What a site acquired and must release: a stack of {@link AutoCloseable}s closed in reverse order
 * of acquisition, every failure collected rather than the first one ending the close. Role changes
 * add to it while the site runs (a volume's applier, history, sync timer), so it is thread-safe;
 * {@link #closeAll()} runs on the closing thread and blocks as long as the resources' own close.
 */
final class Resources {
  private final Deque<AutoCloseable> stack = new ArrayDeque<>();

  /** Releases {@code resource} before everything acquired earlier. */
  synchronized void push(AutoCloseable resource) {
    stack.push(resource);
  }

  /** {@link #push} returning its argument, for acquisitions written as one expression. */
  <T extends AutoCloseable> T add(T resource) {
    push(resource);
    return resource;
  }

  /** Closes everything, newest first; returns every failure (empty when all closed cleanly). */
  List<Exception> closeAll() {
    List<Exception> failures = new ArrayList<>();
    while (true) {
      AutoCloseable next;
      synchronized (this) {
        if (stack.isEmpty()) {
          return failures;
        }
        next = stack.pop();
      }
      try {
        next.close();
      } catch (Exception e) {
        failures.add(e);
      }
    }
  }
}
