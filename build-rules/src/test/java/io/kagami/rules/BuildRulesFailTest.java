package io.kagami.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Shows that the build itself fails on a banned wait or clock (main and test code) and on an
 * unformatted file: each case copies a module that inherits the parent pom unchanged, adds one file
 * that breaks one rule, runs Maven on it offline, and expects the failure with the rule's message.
 * A control run with only well-formed, rule-abiding code must pass, so a failure is the rule's.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class BuildRulesFailTest {
  private static final String FORMATTED_MAIN =
      """
      package io.kagami.fixture;

      /** Measures with a clock it is given. */
      final class Fine {
        private Fine() {}

        static long elapsed(java.util.function.LongSupplier clock, long start) {
          return clock.getAsLong() - start;
        }
      }
      """;

  @Test
  void aWellBehavedModuleBuilds() throws Exception {
    Run run = build("control", "src/main/java/io/kagami/fixture/Fine.java", FORMATTED_MAIN);
    assertThat(run.exit()).as("control build failed:%n%s", run.tail()).isZero();
  }

  @Test
  void aRawClockInMainCodeFailsTheBuild() throws Exception {
    Run run =
        build(
            "raw-clock",
            "src/main/java/io/kagami/fixture/Fine.java",
            FORMATTED_MAIN.replace("clock.getAsLong() - start", "System.nanoTime() - start"));
    assertThat(run.exit()).isNotZero();
    assertThat(run.output()).contains("Forbidden method invocation: java.lang.System#nanoTime()");
  }

  @Test
  void aSleepInTestCodeFailsTheBuild() throws Exception {
    Run run =
        build(
            "test-sleep",
            "src/test/java/io/kagami/fixture/Waits.java",
            """
            package io.kagami.fixture;

            final class Waits {
              private Waits() {}

              static void settle() throws InterruptedException {
                Thread.sleep(100);
              }
            }
            """);
    assertThat(run.exit()).isNotZero();
    assertThat(run.output()).contains("Forbidden method invocation: java.lang.Thread#sleep(long)");
  }

  @Test
  void anUnformattedFileFailsTheBuild() throws Exception {
    Run run =
        build(
            "unformatted",
            "src/main/java/io/kagami/fixture/Fine.java",
            FORMATTED_MAIN.replace("  static long elapsed(", "static long elapsed( "));
    assertThat(run.exit()).isNotZero();
    assertThat(run.output()).contains("format violations", "Fine.java");
  }

  private record Run(int exit, String output) {
    String tail() {
      return output.length() > 4000 ? output.substring(output.length() - 4000) : output;
    }
  }

  /** Copies the fixture module, adds one file, and runs {@code mvn -o verify} on the copy. */
  private static Run build(String name, String file, String content) throws Exception {
    Path root = SourceRulesTest.repositoryRoot();
    Path module = root.resolve("build-rules/target/fixtures/" + name);
    deleteTree(module);
    Files.createDirectories(module);
    Files.copy(
        root.resolve("build-rules/src/test/fixtures/rule-breaker/pom.xml"),
        module.resolve("pom.xml"));
    Path source = module.resolve(file);
    Files.createDirectories(source.getParent());
    Files.writeString(source, content, StandardCharsets.UTF_8);
    List<String> cmd = new ArrayList<>(List.of("mvn", "-B", "-o", "-ntp", "verify"));
    cmd.add("-Dkagami.rules.dir=" + root.resolve("build-rules"));
    String repo = System.getProperty("maven.repo.local");
    if (repo != null) {
      cmd.add("-Dmaven.repo.local=" + repo);
    }
    ProcessBuilder pb =
        new ProcessBuilder(cmd).directory(module.toFile()).redirectErrorStream(true);
    // Maven on the JDK that runs this test (25): the format check needs it.
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    pb.environment().put("MAVEN_OPTS", "--sun-misc-unsafe-memory-access=allow");
    Path log = module.resolve("build.log");
    pb.redirectOutput(log.toFile());
    Process p = pb.start();
    if (!p.waitFor(6, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new AssertionError("nested Maven build '" + name + "' did not finish in 6 minutes");
    }
    return new Run(p.exitValue(), Files.readString(log));
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted((a, b) -> b.compareTo(a)).toList()) {
        Files.delete(p);
      }
    }
  }
}
