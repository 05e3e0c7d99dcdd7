package io.kagami.wan.ship;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The one per-volume state both shipper threads write, driven by hand. */
class SendWindowTest {

  @Test
  void anAckReleasesTheBatchesItCoversInOrderAndRisesOnlyOnce() {
    SendWindow w = new SendWindow();
    w.resume(10);
    w.sent(new SendWindow.InflightBatch(12, 2000));
    w.sent(new SendWindow.InflightBatch(15, 3000));
    w.sent(new SendWindow.InflightBatch(20, 5000));
    assertThat(w.bytes()).isEqualTo(10_000);

    assertThat(w.ack(15)).isEqualTo(SendWindow.AckResult.ADVANCED);
    assertThat(w.acked()).isEqualTo(15);
    assertThat(w.bytes()).as("bytes in flight after an ACK through seq 15").isEqualTo(5000);
    assertThat(w.ack(15)).as("a repeated ACK").isEqualTo(SendWindow.AckResult.UNCHANGED);
    assertThat(w.ack(11)).as("an older ACK").isEqualTo(SendWindow.AckResult.UNCHANGED);
    assertThat(w.acked()).isEqualTo(15);

    w.resume(18); // a new connection: nothing in flight, the standby's durable point as it says
    assertThat(w.bytes()).isZero();
    assertThat(w.acked()).isEqualTo(18);
  }

  @Test
  void regionsLeaveOnlyAsCountedAndOnlyWhenTheAgentTakesThem() {
    SendWindow w = new SendWindow();
    w.resume(0);
    w.sent(new SendWindow.InflightRegion(0, 4096, false));
    w.sent(new SendWindow.InflightRegion(1, 4096, true));
    w.sent(new SendWindow.InflightRegion(2, 4096, false));
    assertThat(w.regionsSent()).isEqualTo(3);

    assertThat(w.regionsDurable(4)).as("REGIONS_DURABLE counting more than were sent").isFalse();
    assertThat(w.takeDurableRegions()).as("nothing acknowledged yet").isEmpty();
    assertThat(w.regionsDurable(2)).isTrue();
    assertThat(w.bytes())
        .as("acknowledged regions stay in flight until the agent takes them")
        .isEqualTo(3 * 4096);
    assertThat(w.takeDurableRegions())
        .containsExactly(
            new SendWindow.InflightRegion(0, 4096, false),
            new SendWindow.InflightRegion(1, 4096, true));
    assertThat(w.takeDurableRegions()).isEmpty();
    assertThat(w.regionsInFlight()).isTrue();
    assertThat(w.bytes()).isEqualTo(4096);

    w.resyncStarted();
    assertThat(w.regionsSent()).as("a new pass counts from zero").isZero();
    assertThat(w.regionsInFlight()).isFalse();
  }
}
