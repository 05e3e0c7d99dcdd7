package io.kagami.site.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code kagami} command: runs a site, the two-site demo, and the operator's verbs. */
@Command(
    name = "kagami",
    mixinStandardHelpOptions = true,
    version = "Kagami 0.1.0",
    description = "Disaster-recovery block replication: NBD in, journal, WAN, replica out.",
    subcommands = {RunCommand.class, DemoCommand.class, StatusCommand.class, LinkCommand.class, PromoteCommand.class, SwitchoverCommand.class, FailbackCommand.class, DrillCommand.class, CertCommand.class, WitnessCommand.class, MaintenanceCommand.class})
public final class Main {
  private Main() {}

  /** Bouncy Castle's JSSE logs every handshake at INFO; keep the reference so the level sticks. */
  private static final java.util.logging.Logger BC_LOG = java.util.logging.Logger.getLogger("org.bouncycastle");

  public static void main(String[] args) {
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
    }
    BC_LOG.setLevel(java.util.logging.Level.SEVERE);
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
