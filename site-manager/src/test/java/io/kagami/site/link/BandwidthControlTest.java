package io.kagami.site.link;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.site.config.BandwidthSchedule;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneId;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Which cap is in force, on a clock the test sets. */
class BandwidthControlTest {
  private final AtomicReference<Instant> now =
      new AtomicReference<>(Instant.parse("2026-01-05T00:00:00Z")); // 09:00 in Tokyo
  private final List<Long> applied = new CopyOnWriteArrayList<>();
  private final BandwidthSchedule officeHours =
      new BandwidthSchedule(
          List.of(new BandwidthSchedule.Window(LocalTime.of(8, 0), LocalTime.of(18, 0), 1_500_000)),
          ZoneId.of("Asia/Tokyo"));

  @Test
  void anOverrideWinsOverScheduleAndConfigUntilCleared() {
    BandwidthControl c = new BandwidthControl(10_000_000, officeHours, now::get, applied::add);
    c.refresh();
    assertThat(c.bandwidth().source()).isEqualTo("schedule");
    assertThat(applied).containsExactly(1_500_000L);

    c.override(3_000_000L);
    assertThat(c.bandwidth().source()).isEqualTo("override");
    now.set(
        Instant.parse(
            "2026-01-05T12:00:00Z")); // 21:00 Tokyo: outside the window, but the override stays
    c.refresh();
    assertThat(applied).containsExactly(1_500_000L, 3_000_000L);

    c.override(null);
    assertThat(c.bandwidth().source()).isEqualTo("config");
    assertThat(c.bandwidth().bandwidthBytesPerSecond()).isEqualTo(10_000_000);
    assertThat(applied).containsExactly(1_500_000L, 3_000_000L, 10_000_000L);
  }

  @Test
  void theScheduleTakesOverAtItsTimeAndUnchangedCapsAreNotReapplied() {
    BandwidthControl c = new BandwidthControl(0, officeHours, now::get, applied::add);
    now.set(Instant.parse("2026-01-04T22:59:00Z")); // 07:59 Tokyo
    c.refresh();
    c.refresh();
    now.set(Instant.parse("2026-01-04T23:00:00Z")); // 08:00 Tokyo
    c.refresh();
    c.refresh();
    assertThat(applied)
        .as("unlimited before 08:00, then the window's cap, each passed on once")
        .containsExactly(0L, 1_500_000L);
    assertThat(c.bandwidth().schedule()).containsExactly("08:00-18:00 1500 KB/s (12.0 Mbit/s)");
    assertThat(c.bandwidth().timeZone()).isEqualTo("Asia/Tokyo");
  }
}
