package io.kagami.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checks the source rules on the repository, and shows each rule failing on a small tree that
 * breaks it.
 */
class SourceRulesTest {
  static Path repositoryRoot() {
    String root = System.getProperty("kagami.root");
    assertThat(root).as("kagami.root system property (set by the build-rules pom)").isNotNull();
    return Path.of(root);
  }

  @Test
  void everyMainPackageSaysWhatItIsFor() {
    List<Path> roots = SourceRules.mainSourceRoots(repositoryRoot());
    assertThat(roots).as("main source roots found").hasSizeGreaterThanOrEqualTo(7);
    assertThat(SourceRules.packagesWithoutInfo(roots)).isEmpty();
  }

  @Test
  void noMainClassOverTheLimitWithoutSayingWhyItIsOneRole() {
    assertThat(SourceRules.oversizedClasses(SourceRules.mainSourceRoots(repositoryRoot())))
        .isEmpty();
  }

  @Test
  void aPackageWithoutInfoIsReported(@TempDir Path tmp) throws IOException {
    Path pkg = Files.createDirectories(tmp.resolve("mod/src/main/java/io/kagami/example"));
    Files.writeString(
        pkg.resolve("Example.java"), "package io.kagami.example;\nclass Example {}\n");
    List<Path> roots = SourceRules.mainSourceRoots(tmp);
    assertThat(SourceRules.packagesWithoutInfo(roots))
        .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
        .startsWith("io.kagami.example ");

    Files.writeString(
        pkg.resolve("package-info.java"), "/** Examples. */\npackage io.kagami.example;\n");
    assertThat(SourceRules.packagesWithoutInfo(roots)).isEmpty();
  }

  @Test
  void anOversizedClassIsReportedUntilItsCommentSaysWhy(@TempDir Path tmp) throws IOException {
    Path pkg = Files.createDirectories(tmp.resolve("mod/src/main/java/io/kagami/example"));
    String body =
        IntStream.range(0, SourceRules.MAX_LINES)
            .mapToObj(i -> "  int f" + i + ";")
            .collect(Collectors.joining("\n"));
    Path big = pkg.resolve("Big.java");
    Files.writeString(
        big,
        "package io.kagami.example;\n/** Does many things. */\nfinal class Big {\n"
            + body
            + "\n}\n");
    List<Path> roots = SourceRules.mainSourceRoots(tmp);
    assertThat(SourceRules.oversizedClasses(roots))
        .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
        .contains("Big.java", "lines (limit 500)");

    Files.writeString(
        big,
        "package io.kagami.example;\n/**\n * Tables.\n *\n * <p>One role: the format's tables"
            + " read best in one place.\n */\nfinal class Big {\n"
            + body
            + "\n}\n");
    assertThat(SourceRules.oversizedClasses(roots)).isEmpty();
  }
}
