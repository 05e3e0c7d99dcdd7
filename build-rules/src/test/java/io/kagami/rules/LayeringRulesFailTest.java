package io.kagami.rules;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Shows that each layering rule fails the build when broken: every rule is evaluated against a
 * fixture class (in this module's test code, under the package it pretends to belong to) that
 * breaks exactly that rule. A rule that stopped matching anything would pass {@link LayeringTest}
 * vacuously; this test would then fail.
 */
class LayeringRulesFailTest {
  private static final Map<ArchRule, String> BREAKER =
      Map.of(
          Layering.CLOCK_AT_THE_BOTTOM, "io.kagami.clock.rulefixture.ClockReadingTheJournal",
          Layering.JOURNAL_ABOVE_CLOCK_ONLY, "io.kagami.journal.rulefixture.JournalCallingTheSite",
          Layering.REPLICATOR_KNOWS_NO_WAN, "io.kagami.replicator.rulefixture.ReplicatorShipping",
          Layering.WAN_KNOWS_NO_NBD, "io.kagami.wan.rulefixture.WanServingNbd",
          Layering.FAILOVER_CORE_IS_PURE, "io.kagami.failover.rulefixture.PolicyOpeningASocket",
          Layering.NO_TESTKIT_IN_PRODUCT, "io.kagami.site.rulefixture.SiteUsingTheTestkit",
          Layering.ROCKSDB_ONLY_IN_JOURNAL, "io.kagami.wan.rulefixture.WanOpeningRocks",
          Layering.SITE_ONLY_WIRES, "io.kagami.site.rulefixture.SiteCompressing",
          Layering.SUPPRESSION_ONLY_IN_CLOCK,
              "io.kagami.site.rulefixture.SiteSuppressingTheClockRule");

  static Stream<Arguments> rulesAndBreakers() {
    assertThat(BREAKER.keySet())
        .as("every layering rule has a fixture that breaks it")
        .containsExactlyInAnyOrderElementsOf(Layering.ALL);
    return BREAKER.entrySet().stream().map(e -> Arguments.of(e.getKey(), e.getValue()));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("rulesAndBreakers")
  void ruleFailsOnTheClassThatBreaksIt(ArchRule rule, String breaker) throws Exception {
    JavaClasses fixture = new ClassFileImporter().importClasses(Class.forName(breaker));
    EvaluationResult result = rule.evaluate(fixture);
    assertThat(result.hasViolation())
        .as("rule '%s' did not catch %s", rule.getDescription(), breaker)
        .isTrue();
  }
}
