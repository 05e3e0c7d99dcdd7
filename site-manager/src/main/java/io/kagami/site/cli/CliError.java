package io.kagami.site.cli;

/**
 * A verb's failure as the operator sees it: which of the {@link ExitCode}s it ends with, what
 * happened, and what to do next. Thrown from anywhere in a verb and printed once, as text or (with
 * {@code --json}) as {@code {"error": {...}}}, by {@link Main}.
 */
final class CliError extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final int exitCode;
  private final String next;

  private CliError(int exitCode, String message, String next) {
    super(message, null, false, false);
    this.exitCode = exitCode;
    this.next = next;
  }

  static CliError failed(String message, String next) {
    return new CliError(ExitCode.FAILED, message, next);
  }

  static CliError usage(String message, String next) {
    return new CliError(ExitCode.USAGE, message, next);
  }

  static CliError refused(String message, String next) {
    return new CliError(ExitCode.REFUSED, message, next);
  }

  static CliError unreachable(String message, String next) {
    return new CliError(ExitCode.UNREACHABLE, message, next);
  }

  int exitCode() {
    return exitCode;
  }

  /** What the operator can do about it; null when there is nothing useful to add. */
  String next() {
    return next;
  }

  /**
   * {@code usage}, {@code refused}, {@code unreachable} or {@code failed}: the exit code's name.
   */
  String kind() {
    return kind(exitCode);
  }

  static String kind(int exitCode) {
    return switch (exitCode) {
      case ExitCode.USAGE -> "usage";
      case ExitCode.REFUSED -> "refused";
      case ExitCode.UNREACHABLE -> "unreachable";
      default -> "failed";
    };
  }
}
