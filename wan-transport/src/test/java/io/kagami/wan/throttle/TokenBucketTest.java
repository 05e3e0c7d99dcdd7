package io.kagami.wan.throttle;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The bucket on a clock the test moves by hand. */
class TokenBucketTest {
  private final AtomicLong now = new AtomicLong(1_000_000_000_000L);

  private void advance(Duration d) {
    now.addAndGet(d.toNanos());
  }

  /**
   * Sends {@code frame}-byte frames for {@code span} as fast as the bucket allows; returns the
   * bytes sent.
   */
  private long sendFor(TokenBucket b, Duration span, long frame) {
    long end = now.get() + span.toNanos();
    long sent = 0;
    for (int i = 0; i < 10_000_000; i++) {
      long wait = b.nanosUntilSend();
      if (wait > 0) {
        if (now.get() + wait > end) {
          now.set(end);
          return sent;
        }
        now.addAndGet(wait);
        continue;
      }
      b.consume(frame);
      sent += frame;
    }
    throw new AssertionError("the bucket never made the sender wait");
  }

  @Test
  void overTenSecondsTheBucketPassesItsRatePlusOneBurstAndOneFrame() {
    long rate = 1_500_000;
    TokenBucket b = new TokenBucket(now::get, rate);
    assertThat(b.burst()).isEqualTo(150_000);
    long frame = 100_000;
    long sent = sendFor(b, Duration.ofSeconds(10), frame);
    assertThat(sent)
        .as("bytes sent in 10 s at 1.5 MB/s")
        .isLessThanOrEqualTo(10 * rate + b.burst() + frame)
        .isGreaterThanOrEqualTo(10 * rate - frame);
  }

  @Test
  void aFrameLargerThanTheBurstGoesWholeAndIsPaidForByWaiting() {
    TokenBucket b = new TokenBucket(now::get, 1000, 1000);
    assertThat(b.nanosUntilSend()).isZero();
    b.consume(5000); // 4000 bytes of debt
    assertThat(b.nanosUntilSend())
        .as("wait until the debt is paid")
        .isBetween(Duration.ofMillis(4000).toNanos(), Duration.ofMillis(4002).toNanos());
    advance(Duration.ofMillis(4001));
    assertThat(b.nanosUntilSend()).isZero();
  }

  @Test
  void tokensDoNotPileUpBeyondTheBurstWhileIdle() {
    TokenBucket b = new TokenBucket(now::get, 1000, 2000);
    b.consume(2000);
    advance(Duration.ofHours(1));
    b.consume(2000);
    assertThat(b.nanosUntilSend()).as("an idle hour leaves one burst, not 3.6 MB").isPositive();
  }

  @Test
  void aRateChangeAppliesToTheNextSendAndKeepsTheDebt() {
    TokenBucket b = new TokenBucket(now::get, 1_000_000);
    long slow = sendFor(b, Duration.ofSeconds(4), 10_000);
    b.setRate(3_000_000);
    assertThat(b.burst()).isEqualTo(300_000);
    long fast = sendFor(b, Duration.ofSeconds(4), 10_000);
    assertThat(slow).isBetween(4_000_000L - 10_000, 4_000_000L + 100_000 + 10_000);
    assertThat(fast)
        .as("4 s after raising the cap to 3 MB/s")
        .isBetween(12_000_000L - 10_000, 12_000_000L + 300_000 + 10_000);

    b.consume(3_000_000); // one second of debt at 3 MB/s...
    b.setRate(1_000_000); // ...is three seconds at 1 MB/s: lowering the rate cannot forgive it
    assertThat(b.nanosUntilSend()).isGreaterThan(Duration.ofMillis(2900).toNanos());
  }

  @Test
  void zeroMeansUnlimitedAndALimitAfterItStartsWithAFullBurst() {
    TokenBucket b = new TokenBucket(now::get, 0);
    for (int i = 0; i < 1000; i++) {
      b.consume(1 << 30);
      assertThat(b.nanosUntilSend()).isZero();
    }
    b.setRate(1000, 5000);
    b.consume(4999);
    assertThat(b.nanosUntilSend()).isZero();
    b.consume(1);
    assertThat(b.nanosUntilSend()).isPositive();
    b.setRate(0);
    assertThat(b.nanosUntilSend()).as("unlimited again: debt is irrelevant").isZero();
  }

  @Test
  void aClockThatGoesBackwardsMintsNothing() {
    TokenBucket b = new TokenBucket(now::get, 1000, 1000);
    b.consume(2000);
    long wait = b.nanosUntilSend();
    now.addAndGet(-Duration.ofSeconds(5).toNanos());
    assertThat(b.nanosUntilSend()).isEqualTo(wait);
  }

  @Test
  void nonsenseIsRejected() {
    assertThatThrownBy(() -> new TokenBucket(now::get, -1)).hasMessageContaining("rate >= 0");
    assertThatThrownBy(() -> new TokenBucket(now::get, 1, 0))
        .hasMessageContaining("burst >= 1 byte");
  }
}
