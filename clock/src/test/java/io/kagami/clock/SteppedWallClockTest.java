package io.kagami.clock;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SteppedWallClockTest {
  @TempDir Path dir;

  private static final InstantSource SYSTEM = SystemTime.WALL;

  @Test
  void followsTheOffsetFileBackAndForth() throws Exception {
    Path file = dir.resolve("offset");
    Files.writeString(file, "+0\n");
    SteppedWallClock clock = new SteppedWallClock(file);
    assertThat(Duration.between(SYSTEM.instant(), clock.instant()).abs())
        .isLessThan(Duration.ofSeconds(5));

    Files.writeString(file, "-3600\n");
    awaitOffset(clock, Duration.ofHours(-1));
    assertThat(clock.millis() - SYSTEM.millis()).isBetween(-3_605_000L, -3_595_000L);

    Files.writeString(file, "+90");
    awaitOffset(clock, Duration.ofSeconds(90));
  }

  @Test
  void aMalformedFileKeepsTheLastOffset() throws Exception {
    Path file = dir.resolve("offset");
    Files.writeString(file, "+120\n");
    SteppedWallClock clock = new SteppedWallClock(file);
    awaitOffset(clock, Duration.ofSeconds(120));
    Files.writeString(file, "two minutes");
    SystemTime.pause(Duration.ofMillis(3 * SteppedWallClock.REREAD_MILLIS));
    awaitOffset(clock, Duration.ofSeconds(120));
    Files.delete(file);
    SystemTime.pause(Duration.ofMillis(3 * SteppedWallClock.REREAD_MILLIS));
    awaitOffset(clock, Duration.ofSeconds(120));
  }

  @Test
  void withoutThePropertyTheWallClockIsTheSystemClock() {
    assertThat(System.getProperty(SteppedWallClock.PROPERTY)).isNull();
    assertThat(SteppedWallClock.fromSystemProperty()).isNotInstanceOf(SteppedWallClock.class);
  }

  /** The clock shows {@code offset} against the system clock within a second, bounded. */
  private static void awaitOffset(SteppedWallClock clock, Duration offset) {
    long deadline = SystemTime.NANO.nanoTime() + Duration.ofSeconds(5).toNanos();
    Duration seen;
    do {
      seen = Duration.between(SYSTEM.instant(), clock.instant());
      if (seen.minus(offset).abs().compareTo(Duration.ofSeconds(1)) < 0) {
        return;
      }
      SystemTime.pause(Duration.ofMillis(20));
    } while (SystemTime.NANO.nanoTime() < deadline);
    throw new AssertionError("clock offset " + seen + ", expected " + offset);
  }
}
