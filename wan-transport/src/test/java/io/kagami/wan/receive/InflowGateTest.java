package io.kagami.wan.receive;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

/**
 * A connection's back-pressure is a value: reading stops above the bound and resumes below half.
 */
class InflowGateTest {
  @Test
  void readingPausesAboveTheBoundAndResumesBelowHalfOfIt() {
    EmbeddedChannel channel = new EmbeddedChannel();
    InflowGate gate = new InflowGate(channel.config(), 1000);

    gate.received(600);
    gate.received(400);
    assertThat(gate.paused()).as("at the bound, still reading").isFalse();
    gate.received(1);
    assertThat(gate.paused()).as("past the bound").isTrue();
    assertThat(channel.config().isAutoRead()).isFalse();

    gate.settled(400);
    assertThat(gate.paused()).as("601 bytes unsettled: above half the bound").isTrue();
    gate.settled(101);
    assertThat(gate.paused()).as("500 bytes unsettled: half the bound").isFalse();
    assertThat(channel.config().isAutoRead()).isTrue();
    channel.finishAndReleaseAll();
  }
}
