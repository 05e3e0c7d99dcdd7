package io.kagami.site.cli;

/**
 * The exit codes of every {@code kagami} verb, distinct so that a script can tell what to do next
 * without reading the message: retry elsewhere (unreachable), fix the request or the site's state
 * (refused), fix the command line (usage), or investigate (failed). Documented in every verb's
 * {@code --help} and in the README; {@code CliConventionsTest} checks each appears where
 * documented.
 */
final class ExitCode {
  /** Done. */
  static final int OK = 0;

  /** The command ran and did not succeed (a site error, a local failure, an outcome unknown). */
  static final int FAILED = 1;

  /**
   * The command line is wrong (unknown option, bad value, missing argument), or the configuration
   * file it names is (every problem listed). Nothing was sent, started or created.
   */
  static final int USAGE = 2;

  /**
   * The site answered and refused: the state does not allow it, or the admin token is missing or
   * wrong. Nothing changed.
   */
  static final int REFUSED = 3;

  /**
   * No Kagami site answers at the address (nothing listening, not reachable, or not an admin port).
   */
  static final int UNREACHABLE = 4;

  /** The lines every verb's help prints under "Exit codes:". */
  static final String[] HELP = {
    "0:Done.",
    "1:Failed: the site or this command hit an error; the message says what to check.",
    "2:Usage: the command line, or the configuration it names, is wrong; nothing was sent or started.",
    "3:Refused: the site answered and refused (its state, or the admin token); nothing changed.",
    "4:Unreachable: no Kagami site answers at the admin address."
  };

  private ExitCode() {}
}
