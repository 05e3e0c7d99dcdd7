package io.kagami.site.cli;

import io.kagami.site.config.ConfigLoader;
import io.kagami.site.config.MemoryBudget;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The JVM options of a daemon verb, derived from the site's memory budget ({@code memory.budget}
 * and its volume count): what the launchers ({@code ./kagami}, the package's {@code
 * /usr/bin/kagami}, the tests' site processes) pass before starting the daemon, so the heap and the
 * direct-memory limit are the budget's shares and an out-of-memory JVM exits at once. Not a verb:
 * {@code java -cp kagami.jar io.kagami.site.cli.JvmOptions run --config site.yaml} prints them on
 * one line.
 *
 * <p>A configuration that cannot be read gives the default budget's options: the daemon then
 * reports what is wrong with it.
 */
public final class JvmOptions {
  private JvmOptions() {}

  public static void main(String[] args) {
    System.out.println(String.join(" ", of(args)));
  }

  /** The options for the daemon command line {@code args} (verb first). */
  public static List<String> of(String... args) {
    String verb = args.length == 0 ? "" : args[0];
    if (verb.equals("witness")) {
      // No volumes, no journal: leases and HTTPS only.
      return List.of("-Xms16m", "-Xmx128m", "-XX:+ExitOnOutOfMemoryError");
    }
    MemoryBudget budget = new MemoryBudget(MemoryBudget.DEFAULT_BYTES, 1);
    if (verb.equals("demo")) {
      // The demo's primary and standby, one volume each, share this JVM.
      return new ArrayList<>(budget.jvmOptions(DemoCommand.SITES));
    }
    Path config = verb.equals("run") ? configOption(args) : null;
    if (config != null) {
      try {
        budget = ConfigLoader.load(config).memory();
      } catch (RuntimeException e) {
        // The daemon says what is wrong with the configuration; these options only size it.
      }
    }
    return new ArrayList<>(budget.jvmOptions());
  }

  private static Path configOption(String[] args) {
    for (int i = 1; i < args.length; i++) {
      if (args[i].equals("--config") && i + 1 < args.length) {
        return Path.of(args[i + 1]);
      }
      if (args[i].startsWith("--config=")) {
        return Path.of(args[i].substring("--config=".length()));
      }
    }
    return null;
  }
}
