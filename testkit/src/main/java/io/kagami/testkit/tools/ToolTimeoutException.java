package io.kagami.testkit.tools;

import java.time.Duration;
import java.util.List;

/** An external program did not finish within its time limit; it and its children were killed. */
public final class ToolTimeoutException extends RuntimeException {
  private final List<String> command;
  private final Duration timeout;

  public ToolTimeoutException(
      List<String> command, Duration timeout, String stdout, String stderr) {
    super(
        String.join(" ", command)
            + " did not finish within "
            + timeout
            + "; killed"
            + ExternalTool.Result.section("stdout", stdout)
            + ExternalTool.Result.section("stderr", stderr));
    this.command = List.copyOf(command);
    this.timeout = timeout;
  }

  public List<String> command() {
    return command;
  }

  public Duration timeout() {
    return timeout;
  }
}
