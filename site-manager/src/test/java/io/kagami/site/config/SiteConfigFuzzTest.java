package io.kagami.site.config;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.kagami.testkit.fuzz.AllocationBudget;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Coverage-guided fuzzing of the site configuration loader ({@link ConfigLoader#parse}, what {@code
 * kagami run} and {@code kagami config check} read): any text is either a {@link SiteConfig} or a
 * {@link ConfigException} listing problems an operator can read (each one non-blank); never another
 * exception (a path with a NUL byte, a number out of range, a YAML alias bomb), a hang, or more
 * than 8 MiB plus 4 KiB per input byte of allocation. The seeds are the README's example
 * configurations.
 */
class SiteConfigFuzzTest {
  private static final Path BASE = Path.of("target", "fuzz-config-base").toAbsolutePath();
  private static final AllocationBudget BUDGET = AllocationBudget.of(8 << 20, 4096);

  @FuzzTest(maxDuration = "10s")
  void anyTextIsAConfigOrProblems(byte[] input) {
    String yaml = new String(input, StandardCharsets.UTF_8);
    try {
      BUDGET.check(input.length, () -> ConfigLoader.parse(yaml, "fuzz.yaml", BASE));
    } catch (ConfigException e) {
      if (e.problems().isEmpty()
          || e.problems().stream().anyMatch(p -> p.reason() == null || p.reason().isBlank())) {
        throw new AssertionError("refused without a readable problem: " + e.problems(), e);
      }
    }
  }
}
