package io.kagami.appliance.deb;

import io.kagami.site.cli.Main;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.AutoComplete;
import picocli.CommandLine;

/**
 * Writes the package's generated documents from the {@code kagami} command tree, at package build
 * time: the man page (roff, see {@link ManPage}) and the bash completion script (picocli's {@link
 * AutoComplete}). Both come from the same model the CLI parses with, so they cannot drift from it.
 *
 * <pre>
 * PackageDocs --man kagami.1 --man-sections extra.roff --completion kagami.bash --source "Kagami 0.1.0"
 * </pre>
 */
public final class PackageDocs {
  private PackageDocs() {}

  public static void main(String[] args) throws IOException {
    Path man = null;
    Path manSections = null;
    Path completion = null;
    String source = null;
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--man" -> man = Path.of(required(args[i], value));
        case "--man-sections" -> manSections = Path.of(required(args[i], value));
        case "--completion" -> completion = Path.of(required(args[i], value));
        case "--source" -> source = required(args[i], value);
        default -> throw new IllegalArgumentException("unknown argument " + args[i] + " (expected --man, --man-sections, --completion, --source)");
      }
      i++;
    }
    if (man == null || completion == null || source == null) {
      throw new IllegalArgumentException("usage: PackageDocs --man FILE [--man-sections FILE] --completion FILE --source TEXT");
    }
    String extra = manSections == null ? "" : Files.readString(manSections, StandardCharsets.UTF_8);
    Files.writeString(man, new ManPage(commandTree(), "1", source, extra).render(), StandardCharsets.UTF_8);
    Files.writeString(completion, AutoComplete.bash("kagami", commandTree()), StandardCharsets.UTF_8);
  }

  /** The CLI's own command tree, built the way {@link Main} builds it. */
  static CommandLine commandTree() {
    return new CommandLine(Main.class);
  }

  private static String required(String option, String value) {
    if (value == null) {
      throw new IllegalArgumentException(option + " needs a value");
    }
    return value;
  }
}
