package io.kagami.rules;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Rules read from the source tree rather than the class files: every main-code package says what it
 * is for in a {@code package-info.java}, and no main-code class grows past {@value #MAX_LINES}
 * lines unless its class comment explains, in a paragraph starting {@value #ONE_ROLE_MARKER}, why
 * it is still one role (the WAN codec's format tables are the model case).
 *
 * <p>Each method returns the violations it found, one operator-readable line each, so the test that
 * checks the repository and the test that proves each rule fails share the same code.
 */
final class SourceRules {
  static final int MAX_LINES = 500;
  static final String ONE_ROLE_MARKER = "One role:";

  private static final Pattern MAIN_SOURCE = Pattern.compile(".*/src/main/java/.*\\.java");

  private SourceRules() {}

  /** The main-code source roots under {@code root}: {@code <module>/src/main/java}. */
  static List<Path> mainSourceRoots(Path root) {
    try (Stream<Path> modules = Files.list(root)) {
      return modules
          .map(m -> m.resolve("src/main/java"))
          .filter(Files::isDirectory)
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Packages (directories holding .java files) under the roots that have no package-info.java. */
  static List<String> packagesWithoutInfo(List<Path> sourceRoots) {
    List<String> missing = new ArrayList<>();
    for (Path sourceRoot : sourceRoots) {
      try (Stream<Path> dirs = Files.walk(sourceRoot)) {
        for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
          if (holdsJava(dir) && !Files.exists(dir.resolve("package-info.java"))) {
            missing.add(
                sourceRoot.relativize(dir).toString().replace('/', '.')
                    + " (in "
                    + sourceRoot
                    + ") has no package-info.java saying what the package is for");
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return missing;
  }

  /** Main-code files longer than {@link #MAX_LINES} whose comment does not justify the size. */
  static List<String> oversizedClasses(List<Path> sourceRoots) {
    List<String> found = new ArrayList<>();
    for (Path sourceRoot : sourceRoots) {
      try (Stream<Path> files = Files.walk(sourceRoot)) {
        for (Path file : files.filter(f -> f.toString().endsWith(".java")).sorted().toList()) {
          List<String> lines = Files.readAllLines(file);
          if (lines.size() > MAX_LINES && !justified(lines)) {
            found.add(
                file
                    + ": "
                    + lines.size()
                    + " lines (limit "
                    + MAX_LINES
                    + "): split it along its roles, or say in its class comment, in a paragraph"
                    + " starting '"
                    + ONE_ROLE_MARKER
                    + "', why it is one role");
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return found;
  }

  /** True if the comment before the first type declaration carries the one-role marker. */
  private static boolean justified(List<String> lines) {
    for (String line : lines) {
      String t = line.strip();
      if (t.contains(ONE_ROLE_MARKER)) {
        return true;
      }
      if (t.matches(
          "(public |final |abstract |sealed |non-sealed )*(class|interface|record|enum) .*")) {
        return false;
      }
    }
    return false;
  }

  private static boolean holdsJava(Path dir) throws IOException {
    try (Stream<Path> entries = Files.list(dir)) {
      return entries.anyMatch(
          p -> MAIN_SOURCE.matcher(p.toString().replace('\\', '/')).matches() || isJavaFile(p));
    }
  }

  private static boolean isJavaFile(Path p) {
    String name = p.getFileName().toString();
    return name.endsWith(".java") && !name.equals("package-info.java") && Files.isRegularFile(p);
  }
}
