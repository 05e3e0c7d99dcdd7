package io.kagami.site.cli;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code kagami} command: runs a site, the two-site demo and the witness, and the operator's
 * verbs. The conventions every verb follows are set here, in one place, so none can miss them:
 * {@code -h}/{@code --help} and {@code kagami help VERB}; the exit codes of {@link ExitCode},
 * listed in each verb's help; errors printed once, as {@code kagami: what happened} and {@code
 * kagami: next: what to do}, or with {@code --json} as {@code {"error": {...}}} on standard output.
 */
@Command(
    name = "kagami",
    mixinStandardHelpOptions = true,
    version = "Kagami 0.1.0",
    description = {
      "Disaster-recovery block replication: hosts write over NBD, every write goes into a journal and is shipped over a WAN link to a standby site, which keeps a crash-consistent replica.",
      "",
      "Every verb that talks to a site names it the same way: --admin HOST:PORT, else the environment variable KAGAMI_ADMIN, else "
          + AdminAddress.DEFAULT
          + "."
    },
    subcommands = {
      RunCommand.class,
      DemoCommand.class,
      StatusCommand.class,
      WaitSyncCommand.class,
      LinkCommand.class,
      PromoteCommand.class,
      SwitchoverCommand.class,
      FailbackCommand.class,
      VerifyCommand.class,
      DrillCommand.class,
      RecoverCommand.class,
      MaintenanceCommand.class,
      CertCommand.class,
      ConfigCommand.class,
      WitnessCommand.class,
      HelpVerb.class
    })
public final class Main implements Runnable {
  @Spec CommandSpec spec;

  private Main() {}

  static {
    // Before the first logger: the shutdown's own log lines must outlive the JDK's log reset.
    if (System.getProperty("java.util.logging.manager") == null) {
      System.setProperty("java.util.logging.manager", ShutdownLogManager.class.getName());
    }
  }

  /** Bouncy Castle's JSSE logs every handshake at INFO; keep the reference so the level sticks. */
  private static final java.util.logging.Logger BC_LOG =
      java.util.logging.Logger.getLogger("org.bouncycastle");

  public static void main(String[] args) {
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty(
          "java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
    }
    BC_LOG.setLevel(java.util.logging.Level.SEVERE);
    System.exit(run(args));
  }

  /** {@code kagami} without a verb: the list of verbs, as a usage error (nothing was done). */
  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "name a verb, e.g. kagami status");
  }

  /** Runs the command line and returns its exit code (tests call this instead of main). */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new Main());
    conventions(cl);
    boolean json = Arrays.asList(args).contains("--json");
    cl.setParameterExceptionHandler((ex, rawArgs) -> usageError(ex, json));
    cl.setExecutionExceptionHandler(
        (ex, cmd, parsed) -> {
          if (System.getenv("KAGAMI_DEBUG") != null) {
            ex.printStackTrace(System.err);
          }
          if (ex instanceof CliError e) {
            return error(e.exitCode(), e.getMessage(), e.next(), json);
          }
          return error(
              ExitCode.FAILED,
              ex.getMessage() == null ? ex.toString() : ex.getMessage(),
              "KAGAMI_DEBUG=1 prints where it happened",
              json);
        });
    return cl.execute(args);
  }

  /** Help option and exit-code list on every verb (daemons: only the codes they can end with). */
  private static void conventions(CommandLine cl) {
    CommandSpec spec = cl.getCommandSpec();
    if (spec.findOption("--help") == null) {
      spec.addOption(
          OptionSpec.builder("-h", "--help")
              .usageHelp(true)
              .description("Show this help and exit.")
              .build());
    }
    boolean daemon =
        spec.userObject() instanceof RunCommand
            || spec.userObject() instanceof DemoCommand
            || spec.userObject() instanceof WitnessCommand;
    Map<String, String> codes = new LinkedHashMap<>();
    for (String line : ExitCode.HELP) {
      String code = line.substring(0, line.indexOf(':'));
      if (!daemon || code.equals("0") || code.equals("1") || code.equals("2")) {
        codes.put(code, line.substring(line.indexOf(':') + 1));
      }
    }
    if (daemon) {
      codes.put("0", "Stopped cleanly (Ctrl-C or SIGTERM).");
    }
    spec.usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(codes);
    for (CommandLine sub : cl.getSubcommands().values()) {
      conventions(sub);
    }
  }

  private static int usageError(ParameterException ex, boolean json) {
    String verb = ex.getCommandLine().getCommandSpec().qualifiedName();
    String next = "see " + verb + " --help";
    if (ex instanceof UnmatchedArgumentException u && !u.getSuggestions().isEmpty()) {
      next = "did you mean " + String.join(" or ", u.getSuggestions()) + "? " + next;
    }
    return error(ExitCode.USAGE, ex.getMessage(), next, json);
  }

  /**
   * Prints an error once: as text on standard error, or with {@code --json} as JSON on standard
   * output.
   */
  private static int error(int exitCode, String message, String next, boolean json) {
    if (json) {
      SiteVerb.printJson(errorJson(exitCode, message, next));
    } else {
      System.err.println("kagami: " + message);
      if (next != null) {
        System.err.println("kagami: next: " + next);
      }
    }
    return exitCode;
  }

  /**
   * {@code {"error": {"kind", "exitCode", "message", "next"}}}: what {@code --json} prints for an
   * error.
   */
  static Map<String, Object> errorJson(int exitCode, String message, String next) {
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("kind", CliError.kind(exitCode));
    error.put("exitCode", exitCode);
    error.put("message", message);
    error.put("next", next);
    return Map.of("error", error);
  }
}
