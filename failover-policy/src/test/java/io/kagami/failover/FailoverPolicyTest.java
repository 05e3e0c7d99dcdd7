package io.kagami.failover;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.failover.fence.FenceCommand;
import io.kagami.failover.fence.FenceResult;
import io.kagami.failover.heartbeat.Heartbeat;
import io.kagami.failover.monitor.MonitorConfig;
import io.kagami.failover.monitor.ProbeResult;
import io.kagami.failover.witness.LeaseReply;
import io.kagami.failover.witness.LeaseRequest;
import io.kagami.failover.witness.WitnessState;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Each rule of {@link FailoverPolicy}, one at a time, with a fake clock and a real {@link
 * WitnessState}.
 */
class FailoverPolicyTest {
  private static final String G = "pair-1";
  private final FakeClock clock = new FakeClock();
  private final FailoverConfig auto =
      FailoverConfig.defaults()
          .withAutoFailover(true)
          .withMonitors(List.of(new MonitorConfig.Postgres("pg", "127.0.0.1", 5432, null)), 3)
          .withFence(new FenceCommand(List.of("fence_ipmilan"), Map.of("ip", "10.0.0.9"), null));
  private WitnessState witness;

  @BeforeEach
  void witnessPastItsGrace() {
    witness = new WitnessState(auto.lease(), Duration.ofSeconds(2), clock);
    clock.advance(Duration.ofSeconds(12));
  }

  private void renew(FailoverPolicy p, String site) {
    Instant sent = clock.instant();
    p.onRenewReply(witness.renew(new LeaseRequest(G, site, p.term())), sent);
  }

  private Heartbeat from(
      String site,
      long term,
      boolean primary,
      boolean plannedStop,
      boolean steppedDown,
      Instant echo) {
    return new Heartbeat(
        site,
        term,
        primary,
        plannedStop,
        steppedDown,
        clock.instant(),
        echo,
        Duration.ofSeconds(10));
  }

  @Test
  void primaryWritesOnlyWithLeaseEvidenceAndSelfFencesAfterTheTimeout() {
    FailoverPolicy p = FailoverPolicy.primary(auto, "tokyo", 1, clock);
    assertThat(p.mayAcknowledgeWrites()).as("no lease yet").isFalse();
    assertThat(p.decide())
        .isInstanceOf(Decision.SelfFence.class)
        .extracting(Decision::reason)
        .asString()
        .startsWith("no lease evidence yet");
    renew(p, "tokyo");
    assertThat(p.decide()).isInstanceOf(Decision.Stay.class);
    assertThat(p.mayAcknowledgeWrites()).isTrue();
    clock.advanceMillis(5_999);
    assertThat(p.mayAcknowledgeWrites()).as("5.999s after the last renewal").isTrue();
    clock.advanceMillis(1);
    assertThat(p.mayAcknowledgeWrites()).as("6s (selfFenceAfter) after the last renewal").isFalse();
    assertThat(p.decide())
        .isInstanceOf(Decision.SelfFence.class)
        .extracting(Decision::reason)
        .asString()
        .contains("lease evidence ran out")
        .contains("selfFenceAfter 6s");
  }

  @Test
  void renewalIsNeverTrustedLongerThanTheLeaseTheWitnessGranted() {
    FailoverPolicy p = FailoverPolicy.primary(auto, "tokyo", 1, clock);
    WitnessState shortLease = new WitnessState(Duration.ofSeconds(4), Duration.ZERO, clock);
    clock.advance(Duration.ofSeconds(4));
    p.onRenewReply(shortLease.renew(new LeaseRequest(G, "tokyo", 1)), clock.instant());
    clock.advanceMillis(4_000);
    assertThat(p.mayAcknowledgeWrites())
        .as("the witness granted 4s, config says 6s: 4s wins")
        .isFalse();
  }

  @Test
  void peerEchoKeepsThePrimaryWritingWhenOnlyTheWitnessIsGone() {
    FailoverPolicy p = FailoverPolicy.primary(auto, "tokyo", 1, clock);
    FailoverPolicy s = FailoverPolicy.standby(auto, "hiroshima", 1, clock);
    for (int i = 0; i < 30; i++) {
      s.onHeartbeat("wan", p.heartbeat());
      p.onHeartbeat("wan", s.heartbeat());
      assertThat(p.mayAcknowledgeWrites()).as("second %d, standby echoes", i).isTrue();
      assertThat(s.decide()).isInstanceOf(Decision.Stay.class);
      clock.advanceMillis(1_000);
    }
    // The WAN goes too: the echo evidence ends 6s after the last heartbeat the standby heard.
    clock.advanceMillis(4_999);
    assertThat(p.mayAcknowledgeWrites()).isTrue();
    clock.advanceMillis(1);
    assertThat(p.mayAcknowledgeWrites()).isFalse();
  }

  @Test
  void aHigherTermDeposesThePrimaryForGood() {
    FailoverPolicy p = FailoverPolicy.primary(auto, "tokyo", 1, clock);
    renew(p, "tokyo");
    p.onHeartbeat("wan", from("hiroshima", 2, true, false, false, null));
    assertThat(p.mayAcknowledgeWrites()).isFalse();
    renew(p, "tokyo");
    assertThat(p.decide())
        .isInstanceOf(Decision.SelfFence.class)
        .extracting(Decision::reason)
        .asString()
        .contains("deposed: peer hiroshima holds term 2");
    assertThat(p.heartbeat().primary()).isFalse();
  }

  @Test
  void standbyClaimsFencesThenPromotesAndFenceFailureBlocksPromotion() {
    FailoverPolicy s = FailoverPolicy.standby(auto, "hiroshima", 1, clock);
    witness.renew(new LeaseRequest(G, "tokyo", 1)); // the primary's last renewal, now
    s.onHeartbeat("wan", from("tokyo", 1, true, false, false, null));
    clock.advanceMillis(9_999);
    assertThat(s.decide()).isInstanceOf(Decision.Stay.class);
    clock.advanceMillis(1);
    Decision d = s.decide();
    assertThat(d)
        .isInstanceOf(Decision.RequestPromotion.class)
        .extracting(Decision::reason)
        .asString()
        .contains("primary lost (wan silent 10.0s, witness never heard");
    // Lease valid until +10s, claimable from +12s: refused first.
    s.onClaimSent();
    assertThat(s.heartbeat().echo()).as("a claiming standby vouches for nobody").isNull();
    s.onClaimReply(witness.claim(new LeaseRequest(G, "hiroshima", 1)), clock.instant());
    assertThat(s.decide())
        .isInstanceOf(Decision.RequestPromotion.class)
        .extracting(Decision::reason)
        .asString()
        .contains(
            "last claim refused: tokyo holds the lease at term 1 (expired, claimable after the 2000ms safety margin");
    clock.advanceMillis(2_000);
    s.onClaimSent();
    s.onClaimReply(witness.claim(new LeaseRequest(G, "hiroshima", 1)), clock.instant());
    assertThat(s.term()).isEqualTo(2);
    assertThat(s.decide())
        .isEqualTo(
            new Decision.Fence(
                2, "lease granted at term 2; the old primary must be fenced before promotion"));
    s.onFenceResult(
        new FenceResult(
            false,
            1,
            false,
            Duration.ofMillis(40),
            "Unable to connect",
            "fence agent fence_ipmilan (action=off) failed with exit status 1"));
    assertThat(s.decide())
        .isInstanceOf(Decision.Fence.class)
        .extracting(Decision::reason)
        .asString()
        .contains("last attempt: fence agent fence_ipmilan (action=off) failed");
    assertThat(s.mayAcknowledgeWrites()).isFalse();
    s.onFenceResult(
        new FenceResult(
            true,
            0,
            false,
            Duration.ofMillis(40),
            "Success: Powered OFF",
            "fence agent fence_ipmilan (action=off) succeeded in 40ms"));
    assertThat(s.decide())
        .isInstanceOf(Decision.Promote.class)
        .extracting(Decision::reason)
        .asString()
        .contains("old primary fenced");
    s.onPromoted();
    assertThat(s.role()).isEqualTo(FailoverPolicy.Role.PRIMARY);
    assertThat(s.mayAcknowledgeWrites()).isTrue();
    assertThat(s.heartbeat().term()).isEqualTo(2);
  }

  @Test
  void withoutAFenceAgentTheTimingRuleIsTheFence() {
    FailoverPolicy s = FailoverPolicy.standby(auto.withFence(null), "hiroshima", 1, clock);
    clock.advance(Duration.ofSeconds(10));
    s.onClaimSent();
    s.onClaimReply(witness.claim(new LeaseRequest(G, "hiroshima", 1)), clock.instant());
    assertThat(s.decide())
        .isInstanceOf(Decision.Promote.class)
        .extracting(Decision::reason)
        .asString()
        .contains(
            "no fence agent configured: the old primary fenced itself (selfFenceAfter 6s < lease 10s)");
  }

  @Test
  void maintenanceSuppressesFailoverButNeverSelfFencing() {
    FailoverPolicy s = FailoverPolicy.standby(auto, "hiroshima", 1, clock);
    s.setMaintenance(true);
    clock.advance(Duration.ofSeconds(30));
    assertThat(s.decide())
        .isInstanceOf(Decision.Suppressed.class)
        .extracting(Decision::reason)
        .asString()
        .startsWith("maintenance mode: primary lost");
    assertThat(s.heartbeat().plannedStop()).isTrue();

    FailoverPolicy p = FailoverPolicy.primary(auto, "tokyo", 1, clock);
    p.setMaintenance(true);
    renew(p, "tokyo");
    clock.advance(Duration.ofSeconds(6));
    assertThat(p.decide())
        .as("a primary in maintenance still fences itself")
        .isInstanceOf(Decision.SelfFence.class);
  }

  @Test
  void aPlannedStopOfThePrimaryIsNeverFailedOver() {
    FailoverPolicy s = FailoverPolicy.standby(auto, "hiroshima", 1, clock);
    s.onHeartbeat("wan", from("tokyo", 1, true, true, false, null));
    clock.advance(Duration.ofMinutes(5));
    assertThat(s.decide())
        .isInstanceOf(Decision.Suppressed.class)
        .extracting(Decision::reason)
        .asString()
        .startsWith("the primary announced a planned stop (maintenance): primary lost");
  }

  @Test
  void automaticFailoverOffMeansNoLeaseNoSelfFenceNoPromotion() {
    FailoverConfig off = FailoverConfig.defaults();
    FailoverPolicy p = FailoverPolicy.primary(off, "tokyo", 1, clock);
    FailoverPolicy s = FailoverPolicy.standby(off, "hiroshima", 1, clock);
    clock.advance(Duration.ofMinutes(5));
    assertThat(p.mayAcknowledgeWrites()).isTrue();
    assertThat(p.holdsLease()).isFalse();
    assertThat(p.decide()).isInstanceOf(Decision.Stay.class);
    assertThat(s.decide())
        .isInstanceOf(Decision.Suppressed.class)
        .extracting(Decision::reason)
        .asString()
        .startsWith("automatic failover is off (failover.autoFailover: false): primary lost");
  }

  @Test
  void failingApplicationMakesThePrimaryStepDownAndTheStandbyTakeOver() {
    FailoverPolicy p = FailoverPolicy.primary(auto, "tokyo", 1, clock);
    FailoverPolicy s = FailoverPolicy.standby(auto, "hiroshima", 1, clock);
    renew(p, "tokyo");
    p.onProbe(ProbeResult.failed("pg", "connection refused"));
    p.onProbe(ProbeResult.failed("pg", "connection refused"));
    p.onProbe(ProbeResult.healthy("pg", "answered 'N'"));
    p.onProbe(ProbeResult.failed("pg", "connection refused"));
    p.onProbe(ProbeResult.failed("pg", "connection refused"));
    assertThat(p.decide()).as("a healthy probe resets the count").isInstanceOf(Decision.Stay.class);
    p.onProbe(ProbeResult.failed("pg", "connection refused"));
    Decision d = p.decide();
    assertThat(d)
        .isEqualTo(
            new Decision.StepDown(
                1,
                "monitor \"pg\" failed 3 times in a row (threshold 3): connection refused; stop writes and release the lease at term 1"));
    assertThat(p.mayAcknowledgeWrites()).as("stop at once, before the release").isFalse();
    LeaseReply released = witness.release(new LeaseRequest(G, "tokyo", 1));
    assertThat(released.granted()).isTrue();
    p.onSteppedDown();
    assertThat(p.decide())
        .isInstanceOf(Decision.SelfFence.class)
        .extracting(Decision::reason)
        .asString()
        .startsWith("stepped down (monitor \"pg\"");
    s.onHeartbeat("wan", p.heartbeat());
    assertThat(s.decide())
        .isInstanceOf(Decision.RequestPromotion.class)
        .extracting(Decision::reason)
        .asString()
        .startsWith("primary tokyo stepped down at term 1");
    s.onClaimSent();
    s.onClaimReply(witness.claim(new LeaseRequest(G, "hiroshima", 1)), clock.instant());
    assertThat(s.decide()).isInstanceOf(Decision.Fence.class);
  }

  @Test
  void monitorFailureInMaintenanceIsSuppressed() {
    FailoverPolicy p = FailoverPolicy.primary(auto, "tokyo", 1, clock);
    renew(p, "tokyo");
    p.setMaintenance(true);
    for (int i = 0; i < 3; i++) {
      p.onProbe(ProbeResult.failed("pg", "connection refused"));
    }
    assertThat(p.decide())
        .isInstanceOf(Decision.Suppressed.class)
        .extracting(Decision::reason)
        .asString()
        .startsWith("maintenance mode: monitor \"pg\" failed 3 times");
    assertThat(p.mayAcknowledgeWrites()).isTrue();
  }

  @Test
  void grantedStandbyAbortsPromotionWhenTheWitnessNoLongerBacksIt() {
    FailoverPolicy s = FailoverPolicy.standby(auto, "hiroshima", 1, clock);
    clock.advance(Duration.ofSeconds(10));
    s.onClaimSent();
    s.onClaimReply(witness.claim(new LeaseRequest(G, "hiroshima", 1)), clock.instant());
    // The witness restarts, forgets, and the old primary re-establishes its lease there first.
    witness = new WitnessState(auto.lease(), Duration.ofSeconds(2), clock);
    clock.advance(Duration.ofSeconds(12));
    witness.renew(new LeaseRequest(G, "tokyo", 1));
    renew(s, "hiroshima");
    // Back to claiming (the primary is still lost), with the reason it did not promote.
    assertThat(s.decide())
        .isInstanceOf(Decision.RequestPromotion.class)
        .extracting(Decision::reason)
        .asString()
        .contains(
            "last claim refused: lease lost before promotion: lease is held by tokyo at term 1");
    assertThat(s.holdsLease()).isFalse();
    assertThat(s.mayAcknowledgeWrites()).isFalse();
  }
}
