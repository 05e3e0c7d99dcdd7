package io.kagami.site.recovery;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.kagami.testkit.fuzz.AllocationBudget;
import java.nio.charset.StandardCharsets;

/**
 * Coverage-guided fuzzing of the recovery profiles loader ({@code recovery.yaml}, {@link
 * RecoveryProfilesLoader#parse}): it never throws; any text gives profiles, problems, or both, and
 * a file that yields no profiles says why; every problem has a message; no hang, and at most 8 MiB
 * plus 4 KiB per input byte of allocation. The seeds are the README's example files.
 */
class RecoveryProfilesFuzzTest {
  private static final AllocationBudget BUDGET = AllocationBudget.of(8 << 20, 4096);

  @FuzzTest(maxDuration = "10s")
  void anyTextIsProfilesOrProblems(byte[] input) {
    String yaml = new String(input, StandardCharsets.UTF_8);
    RecoveryProfilesLoader.Result[] result = new RecoveryProfilesLoader.Result[1];
    BUDGET.check(
        input.length, () -> result[0] = RecoveryProfilesLoader.parse(yaml, "recovery.yaml"));
    RecoveryProfilesLoader.Result r = result[0];
    if (r.profiles() == null && r.problems().isEmpty()) {
      throw new AssertionError("no profiles and no problem saying why");
    }
    for (PlanProblem p : r.problems()) {
      if (p.message() == null || p.message().isBlank()) {
        throw new AssertionError("a problem without a message: " + p);
      }
    }
  }
}
