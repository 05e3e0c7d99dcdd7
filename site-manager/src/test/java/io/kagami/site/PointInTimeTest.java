package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.time.InstantSource;
import org.junit.jupiter.api.Test;

class PointInTimeTest {
  private final InstantSource clock = InstantSource.fixed(Instant.parse("2026-01-01T12:00:00Z"));

  @Test
  void instantsOffsetTimesAndAgesAreAcceptedAndAnythingElseIsRefusedWithExamples() {
    assertThat(PointInTime.parse("2026-01-01T10:00:00Z", clock))
        .isEqualTo(Instant.parse("2026-01-01T10:00:00Z"));
    assertThat(PointInTime.parse("2026-01-01T19:00:00+09:00", clock))
        .isEqualTo(Instant.parse("2026-01-01T10:00:00Z"));
    assertThat(PointInTime.parse("15m", clock)).isEqualTo(Instant.parse("2026-01-01T11:45:00Z"));
    assertThat(PointInTime.parse("2h ago", clock)).isEqualTo(Instant.parse("2026-01-01T10:00:00Z"));
    assertThatThrownBy(() -> PointInTime.parse("yesterday", clock))
        .isInstanceOf(Promotion.RefusedException.class)
        .hasMessageContaining(
            "\"yesterday\" is not a point in time (examples: 2026-01-01T10:00:00Z");
  }
}
