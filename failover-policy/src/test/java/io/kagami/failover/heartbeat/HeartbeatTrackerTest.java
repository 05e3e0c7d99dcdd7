package io.kagami.failover.heartbeat;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.failover.FakeClock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class HeartbeatTrackerTest {
  private final FakeClock clock = new FakeClock();
  private final HeartbeatTracker tracker =
      new HeartbeatTracker(List.of("wan", "witness"), Duration.ofSeconds(10), clock);

  private Heartbeat hb() {
    return new Heartbeat(
        "tokyo", 1, true, false, false, clock.instant(), null, Duration.ofSeconds(10));
  }

  @Test
  void peerIsLostOnlyWhenEveryPathIsSilentLongerThanTheTimeout() {
    tracker.heard("wan", hb());
    tracker.heard("witness", hb());
    clock.advanceMillis(5_000);
    tracker.heard("witness", hb());
    clock.advanceMillis(9_999);
    assertThat(tracker.peerLost()).as("witness path heard 9.999s ago").isFalse();
    assertThat(tracker.describe()).isEqualTo("wan silent 15.0s, witness heard 10.0s ago");
    clock.advanceMillis(1);
    assertThat(tracker.peerLost()).isTrue();
    assertThat(tracker.paths())
        .extracting(HeartbeatTracker.PathStatus::alive)
        .containsExactly(false, false);
  }

  @Test
  void oneDeadPathIsReportedButIsNotLoss() {
    for (int i = 0; i < 30; i++) {
      clock.advanceMillis(1_000);
      tracker.heard("witness", hb());
    }
    assertThat(tracker.peerLost()).isFalse();
    assertThat(tracker.paths().getFirst())
        .satisfies(
            p -> {
              assertThat(p.path()).isEqualTo("wan");
              assertThat(p.lastHeard()).isNull();
              assertThat(p.alive()).isFalse();
            });
    assertThat(tracker.describe()).startsWith("wan never heard (30.0s)");
  }

  @Test
  void neverHeardPeerIsLostAfterTheTimeoutNotAtOnce() {
    assertThat(tracker.peerLost()).isFalse();
    clock.advanceMillis(10_000);
    assertThat(tracker.peerLost()).isTrue();
  }

  @Test
  void latestIsTheNewestBySendTimeEvenWhenPathsReorder() {
    Heartbeat older = hb();
    clock.advanceMillis(100);
    Heartbeat newer =
        new Heartbeat("tokyo", 2, true, true, false, clock.instant(), null, Duration.ofSeconds(10));
    tracker.heard("wan", newer);
    tracker.heard("witness", older);
    assertThat(tracker.latest()).isSameAs(newer);
    assertThat(tracker.lastHeardAny()).isEqualTo(clock.instant());
  }

  @Test
  void unknownOrDuplicatePathsAreRejected() {
    assertThatThrownBy(() -> tracker.heard("udp", hb()))
        .hasMessageContaining("unknown path \"udp\"");
    assertThatThrownBy(
            () -> new HeartbeatTracker(List.of("wan", "wan"), Duration.ofSeconds(1), clock))
        .hasMessageContaining("listed twice");
  }
}
