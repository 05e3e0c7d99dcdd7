package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** The site's lifecycle: the legal path, idempotent close, illegal transitions named. */
class LifeCycleTest {
  @Test
  void runsThroughTheLegalPathAndClosesOnce() {
    LifeCycle l = new LifeCycle("site tokyo");
    assertThat(l.current()).isEqualTo(LifeCycle.State.NEW);
    l.transition(LifeCycle.State.NEW, LifeCycle.State.STARTING);
    l.transition(LifeCycle.State.STARTING, LifeCycle.State.RUNNING);
    assertThat(l.running()).isTrue();
    assertThat(l.beginClose()).isTrue();
    assertThat(l.running()).isFalse();
    assertThat(l.beginClose()).as("a second close does nothing").isFalse();
    l.transition(LifeCycle.State.CLOSING, LifeCycle.State.CLOSED);
    assertThat(l.beginClose()).isFalse();
  }

  @Test
  void aFailedStartClosesFromStarting() {
    LifeCycle l = new LifeCycle("site tokyo");
    l.transition(LifeCycle.State.NEW, LifeCycle.State.STARTING);
    assertThat(l.beginClose()).isTrue();
    assertThat(l.current()).isEqualTo(LifeCycle.State.CLOSING);
  }

  @Test
  void rejectsIllegalTransitionsNamingBothStates() {
    LifeCycle l = new LifeCycle("site tokyo");
    assertThatThrownBy(() -> l.transition(LifeCycle.State.NEW, LifeCycle.State.RUNNING))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("site tokyo")
        .hasMessageContaining("NEW -> RUNNING");
    l.transition(LifeCycle.State.NEW, LifeCycle.State.STARTING);
    assertThatThrownBy(() -> l.transition(LifeCycle.State.NEW, LifeCycle.State.STARTING))
        .as("starting twice")
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("is STARTING, not NEW");
  }
}
