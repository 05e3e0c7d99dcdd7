package io.kagami.site;

import java.util.concurrent.atomic.AtomicReference;

/**
 * The lifecycle of a component that starts and closes once (after Ratis {@code LifeCycle}): NEW →
 * STARTING → RUNNING → CLOSING → CLOSED, and from NEW or STARTING straight to CLOSING (a start that
 * failed, or a close before start). Any other transition is a bug and is rejected with both states
 * named. Thread-safe and lock-free: readers on any thread see the current state.
 */
final class LifeCycle {
  enum State {
    NEW,
    STARTING,
    RUNNING,
    CLOSING,
    CLOSED;

    boolean canGoTo(State next) {
      return switch (this) {
        case NEW -> next == STARTING || next == CLOSING;
        case STARTING -> next == RUNNING || next == CLOSING;
        case RUNNING -> next == CLOSING;
        case CLOSING -> next == CLOSED;
        case CLOSED -> false;
      };
    }
  }

  private final String name;
  private final AtomicReference<State> state = new AtomicReference<>(State.NEW);

  LifeCycle(String name) {
    this.name = name;
  }

  State current() {
    return state.get();
  }

  /** True while the component runs: role changes and other work may begin. */
  boolean running() {
    return state.get() == State.RUNNING;
  }

  /** Moves from {@code from} to {@code to}; throws when the state is not {@code from}. */
  void transition(State from, State to) {
    if (!from.canGoTo(to)) {
      throw new IllegalStateException(
          name + ": " + from + " -> " + to + " is not a lifecycle transition");
    }
    if (!state.compareAndSet(from, to)) {
      throw new IllegalStateException(
          name + " is " + state.get() + ", not " + from + ": cannot go to " + to);
    }
  }

  /**
   * Moves to CLOSING from whatever state allows it; false when the component is closing or closed
   * already (close is idempotent).
   */
  boolean beginClose() {
    while (true) {
      State s = state.get();
      if (!s.canGoTo(State.CLOSING)) {
        return false;
      }
      if (state.compareAndSet(s, State.CLOSING)) {
        return true;
      }
    }
  }
}
