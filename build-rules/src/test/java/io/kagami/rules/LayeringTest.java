package io.kagami.rules;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Checks every rule of {@link Layering} against the main code of all modules. */
class LayeringTest {
  private static JavaClasses mainCode;

  @BeforeAll
  static void importMainCode() {
    mainCode =
        new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("io.kagami");
  }

  static Stream<ArchRule> rules() {
    return Layering.ALL.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rules")
  void mainCodeKeepsTheRule(ArchRule rule) {
    rule.check(mainCode);
  }
}
