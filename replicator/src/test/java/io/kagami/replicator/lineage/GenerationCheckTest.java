package io.kagami.replicator.lineage;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The handshake's rule, without a journal: which primaries' histories a standby may continue. */
class GenerationCheckTest {
  private static final long OLD = 0x1111;
  private static final long NEW = 0x2222;

  @Test
  void theSameLineOrNoGenerationContinues() {
    assertThat(GenerationCheck.decide("vol0", OLD, 50, new Generation(OLD, 0, 0), false))
        .isEqualTo(new GenerationCheck.Continue());
    assertThat(GenerationCheck.decide("vol0", OLD, 50, Generation.NONE, false))
        .isEqualTo(new GenerationCheck.Continue());
  }

  @Test
  void aNewStandbyOrOneHoldingNothingPastThePromotionAdopts() {
    assertThat(GenerationCheck.decide("vol0", 0, 0, new Generation(NEW, OLD, 5), false))
        .isEqualTo(new GenerationCheck.Adopt(NEW));
    assertThat(GenerationCheck.decide("vol0", OLD, 5, new Generation(NEW, OLD, 5), false))
        .isEqualTo(new GenerationCheck.Adopt(NEW));
  }

  @Test
  void writesPastThePromotionAreDiscardedOnlyWithConsent() {
    assertThat(GenerationCheck.decide("vol0", OLD, 8, new Generation(NEW, OLD, 5), true))
        .isEqualTo(new GenerationCheck.Failback(NEW, 5));
    GenerationCheck.Verdict refused =
        GenerationCheck.decide("vol0", OLD, 8, new Generation(NEW, OLD, 5), false);
    assertThat(refused)
        .isInstanceOfSatisfying(
            GenerationCheck.Refuse.class,
            r ->
                assertThat(r.reason())
                    .isEqualTo(
                        "volume vol0: the histories diverged: this standby holds generation 0000000000001111 through seq 8, the primary ships generation 0000000000002222"
                            + " (grown out of 0000000000001111 at seq 5); they are never merged: this site holds writes after the fork that a rejoin discards;"
                            + " run `kagami failback` on it to save them aside and rejoin as the standby"));
  }

  @Test
  void anUnrelatedHistoryIsRefusedEvenWithConsent() {
    GenerationCheck.Verdict refused =
        GenerationCheck.decide("vol0", OLD, 8, new Generation(0x3333, 0, 0), true);
    assertThat(refused)
        .isInstanceOfSatisfying(
            GenerationCheck.Refuse.class,
            r ->
                assertThat(r.reason())
                    .endsWith("wipe this standby's journal and volume to take the primary's"));
  }
}
