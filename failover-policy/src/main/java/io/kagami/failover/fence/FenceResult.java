package io.kagami.failover.fence;

import java.time.Duration;

/**
 * The outcome of one fence attempt: success iff the agent exited 0 within its timeout.
 *
 * @param exitCode the agent's exit status, or -1 when it timed out or could not start
 * @param output what the agent printed (stdout and stderr, interleaved), for the log
 * @param reason operator-readable summary
 */
public record FenceResult(
    boolean success, int exitCode, boolean timedOut, Duration took, String output, String reason) {
  public static FenceResult failed(String reason) {
    return new FenceResult(false, -1, false, Duration.ZERO, "", reason);
  }
}
