package io.kagami.clock;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class KeyedRateLimitTest {
  private long now = 1_000;
  private final KeyedRateLimit limit = new KeyedRateLimit(() -> now, 3, Duration.ofSeconds(5), 2);

  @Test
  void aBurstThenOnePerRefillAndTheRefusalsAreReportedToTheNextAdmission() {
    assertThat(limit.admit("a")).isZero();
    assertThat(limit.admit("a")).isZero();
    assertThat(limit.admit("a")).isZero();
    assertThat(limit.admit("a")).as("the fourth in one instant").isEqualTo(-1);
    assertThat(limit.admit("a")).isEqualTo(-1);
    now += Duration.ofMillis(4_999).toNanos();
    assertThat(limit.admit("a")).as("not yet a refill later").isEqualTo(-1);
    now += Duration.ofMillis(1).toNanos();
    assertThat(limit.admit("a")).as("one refill later: admitted, says 3 were refused").isEqualTo(3);
    assertThat(limit.admit("a")).isEqualTo(-1);
    assertThat(limit.refused()).isEqualTo(4);
  }

  @Test
  void keysAreIndependentAndAtMostMaxKeysAreRemembered() {
    for (int i = 0; i < 3; i++) {
      limit.admit("a");
    }
    assertThat(limit.admit("a")).isEqualTo(-1);
    assertThat(limit.admit("b")).as("another key has its own burst").isZero();
    limit.admit("c"); // the third key: "a", least recently seen, is forgotten
    assertThat(limit.admit("a")).as("a forgotten key starts a new burst").isZero();
  }

  @Test
  void aLongIdleRefillsOnlyUpToTheBurst() {
    for (int i = 0; i < 3; i++) {
      limit.admit("a");
    }
    now += Duration.ofHours(1).toNanos();
    for (int i = 0; i < 3; i++) {
      assertThat(limit.admit("a")).isZero();
    }
    assertThat(limit.admit("a")).isEqualTo(-1);
  }

  @Test
  void nonsenseSettingsAreRefused() {
    assertThatThrownBy(() -> new KeyedRateLimit(() -> 0, 0, Duration.ofSeconds(1), 1))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must be > 0");
  }
}
