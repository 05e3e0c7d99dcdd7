package io.kagami.clock;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class SystemTimeTest {
  @Test
  void monotonicClockNeverGoesBackAndPauseWaitsAtLeastItsDuration() {
    NanoClock clock = NanoClock.system();
    long start = clock.nanoTime();
    SystemTime.pause(Duration.ofMillis(20));
    assertThat(clock.nanosSince(start))
        .as("a 20 ms pause returned early")
        .isGreaterThanOrEqualTo(Duration.ofMillis(20).toNanos());
  }

  @Test
  void pauseReturnsAtOnceWhenInterruptedAndKeepsTheFlag() {
    Thread.currentThread().interrupt();
    long start = SystemTime.NANO.nanoTime();
    SystemTime.pause(Duration.ofSeconds(30));
    assertThat(Thread.interrupted()).as("interrupt flag kept").isTrue();
    assertThat(SystemTime.NANO.nanosSince(start)).isLessThan(Duration.ofSeconds(5).toNanos());
  }
}
