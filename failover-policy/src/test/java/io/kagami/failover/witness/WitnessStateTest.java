package io.kagami.failover.witness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.failover.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class WitnessStateTest {
  private static final Duration LEASE = Duration.ofSeconds(10);
  private static final Duration MARGIN = Duration.ofSeconds(2);
  private final FakeClock clock = new FakeClock();
  private WitnessState witness;

  @BeforeEach
  void startAndWaitOutGrace() {
    witness = new WitnessState(LEASE, MARGIN, clock);
    clock.advance(LEASE.plus(MARGIN));
  }

  @Test
  void firstClaimIsGrantedAtTermAboveTheKnownOne() {
    LeaseReply r = witness.claim(new LeaseRequest("g", "tokyo", 4));
    assertThat(r.granted()).as(r.reason()).isTrue();
    assertThat(r.term()).isEqualTo(5);
    assertThat(r.holder()).isEqualTo("tokyo");
    assertThat(r.leaseMillis()).isEqualTo(10_000);
  }

  @Test
  void claimIsRefusedWhileTheHolderRenewsAndUntilExpiryPlusMargin() {
    witness.claim(new LeaseRequest("g", "tokyo", 0));
    clock.advanceMillis(9_000);
    assertThat(witness.renew(new LeaseRequest("g", "tokyo", 1)).granted()).isTrue();
    clock.advanceMillis(9_999);
    LeaseReply early = witness.claim(new LeaseRequest("g", "hiroshima", 1));
    assertThat(early.granted()).isFalse();
    assertThat(early.reason()).contains("tokyo holds the lease at term 1").contains("valid for");
    clock.advanceMillis(1); // expired, inside the margin
    LeaseReply inMargin = witness.claim(new LeaseRequest("g", "hiroshima", 1));
    assertThat(inMargin.granted()).isFalse();
    assertThat(inMargin.reason()).contains("safety margin");
    clock.advanceMillis(1_999);
    assertThat(witness.claim(new LeaseRequest("g", "hiroshima", 1)).granted()).isFalse();
    clock.advanceMillis(1);
    LeaseReply granted = witness.claim(new LeaseRequest("g", "hiroshima", 1));
    assertThat(granted.granted()).as(granted.reason()).isTrue();
    assertThat(granted.term()).isEqualTo(2);
    assertThat(granted.reason()).contains("tokyo's lease at term 1 expired");
  }

  @Test
  void deposedHolderCannotRenewAndLearnsTheNewTerm() {
    witness.claim(new LeaseRequest("g", "tokyo", 0));
    clock.advance(LEASE.plus(MARGIN));
    witness.claim(new LeaseRequest("g", "hiroshima", 1));
    LeaseReply r = witness.renew(new LeaseRequest("g", "tokyo", 1));
    assertThat(r.granted()).isFalse();
    assertThat(r.holder()).isEqualTo("hiroshima");
    assertThat(r.term()).isEqualTo(2);
  }

  @Test
  void releaseFreesTheGroupAtOnce() {
    witness.claim(new LeaseRequest("g", "tokyo", 0));
    assertThat(witness.release(new LeaseRequest("g", "hiroshima", 1)).granted())
        .as("only the holder may release")
        .isFalse();
    assertThat(witness.release(new LeaseRequest("g", "tokyo", 1)).granted()).isTrue();
    assertThat(witness.renew(new LeaseRequest("g", "tokyo", 1)).granted())
        .as("released lease cannot be renewed")
        .isFalse();
    LeaseReply r = witness.claim(new LeaseRequest("g", "hiroshima", 1));
    assertThat(r.granted()).isTrue();
    assertThat(r.term()).isEqualTo(2);
  }

  @Test
  void restartedWitnessGrantsNothingForLeasePlusMargin() {
    WitnessState fresh = new WitnessState(LEASE, MARGIN, clock);
    clock.advance(LEASE.plus(MARGIN).minusMillis(1));
    assertThat(fresh.claim(new LeaseRequest("g", "hiroshima", 1)).reason())
        .contains("started recently");
    assertThat(fresh.renew(new LeaseRequest("g", "tokyo", 1)).granted()).isFalse();
    clock.advanceMillis(1);
    LeaseReply r = fresh.renew(new LeaseRequest("g", "tokyo", 3));
    assertThat(r.granted())
        .as("the holder re-establishes its term with a forgetful witness")
        .isTrue();
    assertThat(r.term()).isEqualTo(3);
  }

  @Test
  void groupsAreIndependent() {
    assertThat(witness.claim(new LeaseRequest("g1", "tokyo", 0)).granted()).isTrue();
    assertThat(witness.claim(new LeaseRequest("g2", "hiroshima", 0)).granted()).isTrue();
    assertThat(witness.validHolder("g1")).isEqualTo("tokyo");
    assertThat(witness.validHolder("g2")).isEqualTo("hiroshima");
  }

  @Test
  void badRequestsAreRejectedWithAReason() {
    assertThatThrownBy(() -> witness.claim(new LeaseRequest("", "tokyo", 0)))
        .hasMessageContaining("needs a group and a site");
    assertThatThrownBy(() -> witness.renew(new LeaseRequest("g", "tokyo", -1)))
        .hasMessageContaining("negative");
  }

  /**
   * Sites claiming, renewing and releasing at random instants: a new term is never granted while
   * another site's lease is valid or inside its safety margin, and terms only grow.
   */
  @Test
  void grantsExactlyOneHolderAtATime() {
    long seed = new Random().nextLong();
    System.out.println("WitnessStateTest.grantsExactlyOneHolderAtATime seed=" + seed);
    Random rnd = new Random(seed);
    List<String> sites = List.of("a", "b", "c");
    long[] heldTerm = new long[sites.size()];
    long lastTerm = 0;
    int grants = 0;
    for (int step = 0; step < 5_000; step++) {
      clock.advanceMillis(rnd.nextInt(4_000));
      int i = rnd.nextInt(sites.size());
      WitnessState.Lease before = witness.status("g");
      LeaseRequest req = new LeaseRequest("g", sites.get(i), heldTerm[i]);
      int op = rnd.nextInt(10);
      LeaseReply r =
          op < 4
              ? witness.claim(new LeaseRequest("g", sites.get(i), lastTerm))
              : op < 9 ? witness.renew(req) : witness.release(req);
      if (r.granted() && r.term() > lastTerm) {
        grants++;
        if (before != null && !before.released() && !before.holder().equals(sites.get(i))) {
          assertThat(clock.instant())
              .as(
                  "seed %d step %d: %s granted term %d while %s's lease (expiring %s) was within lease + margin",
                  seed, step, sites.get(i), r.term(), before.holder(), before.expiresAt())
              .isAfterOrEqualTo(before.expiresAt().plus(MARGIN));
        }
      }
      if (r.granted() && r.holder() != null) {
        assertThat(r.term())
            .as("seed %d: terms never go back", seed)
            .isGreaterThanOrEqualTo(lastTerm);
        lastTerm = r.term();
        heldTerm[i] = r.term();
      }
    }
    assertThat(grants).as("the schedule exercised several grants").isGreaterThan(3);
  }
}
