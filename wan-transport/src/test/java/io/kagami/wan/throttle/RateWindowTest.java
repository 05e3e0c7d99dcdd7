package io.kagami.wan.throttle;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateWindowTest {
  private final AtomicLong now = new AtomicLong(42);

  private void advance(long millis) {
    now.addAndGet(Duration.ofMillis(millis).toNanos());
  }

  @Test
  void averagesTheCompletedSecondsOfTheWindow() {
    RateWindow w = new RateWindow(now::get, Duration.ofSeconds(5));
    assertThat(w.bytesPerSecond()).isZero();
    for (int s = 0; s < 10; s++) {
      for (int i = 0; i < 10; i++) {
        w.record(1000);
        advance(100);
      }
    }
    assertThat(w.bytesPerSecond()).isEqualTo(10_000.0);
    advance(2000); // two silent seconds: 3 of the last 5 had 10 KB
    assertThat(w.bytesPerSecond()).isEqualTo(6_000.0);
    advance(10_000);
    assertThat(w.bytesPerSecond()).as("nothing sent for 10 s").isZero();
  }

  @Test
  void aYoungWindowDividesByTheSecondsItHasSeen() {
    RateWindow w = new RateWindow(now::get, Duration.ofSeconds(5));
    w.record(3000);
    advance(1000);
    w.record(5000); // current second: not counted yet
    assertThat(w.bytesPerSecond()).isEqualTo(3000.0);
    advance(1000);
    assertThat(w.bytesPerSecond()).isEqualTo(4000.0);
  }
}
