package io.kagami.site.fence;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;
import io.kagami.failover.fence.FenceCommand;
import io.kagami.failover.fence.FenceResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Runs a fence agent ({@link FenceCommand}) and reports whether the peer is fenced: the process I/O
 * half of fencing (the policy in {@code failover-policy} only sees the {@link FenceResult}). Blocks
 * the calling thread (the failover action thread) for at most the command's timeout plus a moment
 * to collect output, waiting on the process's exit; never run it on an event loop. Promotion waits
 * for {@link FenceResult#success()}; anything else blocks it. Holds no thread or file between runs:
 * the agent's output is drained on a virtual thread that ends with the process.
 */
public final class FenceAgent {
  /** Longest output kept for the log; agents can be chatty under --verbose. */
  private static final int MAX_OUTPUT = 16 * 1024;

  private final FenceCommand command;
  private final NanoClock clock;

  /** An agent that times its runs on the machine's monotonic clock. */
  public FenceAgent(FenceCommand command) {
    this(command, SystemTime.NANO);
  }

  /** {@code clock} times each run (the {@link FenceResult#took()} reported). */
  public FenceAgent(FenceCommand command, NanoClock clock) {
    this.command = command;
    this.clock = clock;
  }

  /** Powers the peer off ({@code action=off}). */
  public FenceResult fenceOff() throws InterruptedException {
    return run("off");
  }

  /** Runs the agent with {@code action=<action>} (off, on, status, monitor...). */
  public FenceResult run(String action) throws InterruptedException {
    long start = clock.nanoTime();
    Process p;
    try {
      p = new ProcessBuilder(command.argv()).redirectErrorStream(true).start();
    } catch (IOException e) {
      return FenceResult.failed(
          "fence agent " + command.argv().getFirst() + " could not start: " + e.getMessage());
    }
    // Output is drained on its own (virtual) thread so a chatty agent never blocks on a full pipe.
    CompletableFuture<String> output =
        CompletableFuture.supplyAsync(() -> drain(p.getInputStream()), Thread.ofVirtual()::start);
    try (OutputStream stdin = p.getOutputStream()) {
      StringBuilder lines = new StringBuilder("action=").append(action).append('\n');
      for (Map.Entry<String, String> e : command.options().entrySet()) {
        lines.append(e.getKey()).append('=').append(e.getValue()).append('\n');
      }
      stdin.write(lines.toString().getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      // An agent that takes its options as arguments may exit without reading stdin: not an error.
    }
    boolean exited = p.waitFor(command.timeout().toNanos(), TimeUnit.NANOSECONDS);
    if (!exited) {
      // Children first: a shell script's `sleep` would otherwise keep the output pipe open.
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      p.waitFor(5, TimeUnit.SECONDS);
    }
    String out = collect(output);
    Duration took = Duration.ofNanos(clock.nanosSince(start));
    if (!exited) {
      return new FenceResult(
          false,
          -1,
          true,
          took,
          out,
          "fence agent "
              + command.argv().getFirst()
              + " (action="
              + action
              + ") did not finish within "
              + command.timeout().toMillis()
              + "ms; killed; the peer is NOT known to be fenced");
    }
    int code = p.exitValue();
    return code == 0
        ? new FenceResult(
            true,
            0,
            false,
            took,
            out,
            "fence agent "
                + command.argv().getFirst()
                + " (action="
                + action
                + ") succeeded in "
                + took.toMillis()
                + "ms")
        : new FenceResult(
            false,
            code,
            false,
            took,
            out,
            "fence agent "
                + command.argv().getFirst()
                + " (action="
                + action
                + ") failed with exit status "
                + code
                + "; the peer is NOT known to be fenced"
                + (out.isBlank() ? "" : ": " + lastLine(out)));
  }

  /**
   * Everything the agent printed (its last {@value #MAX_OUTPUT} bytes). Read in chunks, keeping
   * what arrived: killing a hung agent closes the pipe under this reader, and what it said before
   * it hung is the most useful line of all.
   */
  private static String drain(InputStream in) {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    byte[] chunk = new byte[4096];
    String error = null;
    try (in) {
      int n;
      while ((n = in.read(chunk)) >= 0) {
        all.write(chunk, 0, n);
        if (all.size() > 4 * MAX_OUTPUT) {
          byte[] tail = Arrays.copyOfRange(all.toByteArray(), all.size() - MAX_OUTPUT, all.size());
          all.reset();
          all.write(tail, 0, tail.length);
        }
      }
    } catch (IOException e) {
      error = e.getMessage(); // the pipe closed when the agent was killed at its timeout
    }
    byte[] bytes = all.toByteArray();
    if (bytes.length == 0 && error != null) {
      return "(output unreadable: " + error + ")";
    }
    int from = Math.max(0, bytes.length - MAX_OUTPUT);
    return new String(bytes, from, bytes.length - from, StandardCharsets.UTF_8);
  }

  private static String collect(CompletableFuture<String> output) throws InterruptedException {
    try {
      return output.get(5, TimeUnit.SECONDS);
    } catch (ExecutionException | TimeoutException e) {
      output.cancel(true);
      return "(output not collected: " + e + ")";
    }
  }

  private static String lastLine(String out) {
    String t = out.strip();
    int nl = t.lastIndexOf('\n');
    return nl < 0 ? t : t.substring(nl + 1);
  }
}
