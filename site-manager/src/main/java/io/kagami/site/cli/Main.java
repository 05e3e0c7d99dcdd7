package io.kagami.site.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code kagami} command: runs a site, the two-site demo, and the operator's verbs. */
@Command(
    name = "kagami",
    mixinStandardHelpOptions = true,
    version = "Kagami 0.1.0",
    description = "Disaster-recovery block replication: NBD in, journal, WAN, replica out.",
    subcommands = {RunCommand.class, DemoCommand.class, StatusCommand.class, CertCommand.class})
public final class Main {
  private Main() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns its exit code (tests call this instead of main). */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          cmd.getErr().println("kagami: " + (ex.getMessage() == null ? ex.toString() : ex.getMessage()));
          if (System.getenv("KAGAMI_DEBUG") != null) {
            ex.printStackTrace(cmd.getErr());
          }
          return 1;
        });
    return cl.execute(args);
  }
}
