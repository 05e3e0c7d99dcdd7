package io.kagami.site.recovery.run;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A VM that is a child process of the site (QEMU, or a test's stand-in). */
public final class ProcessVm implements VmLauncher.RunningVm {
  private static final System.Logger LOG = System.getLogger(ProcessVm.class.getName());
  private final Process process;
  private final CompletableFuture<Integer> exited;

  public ProcessVm(Process process) {
    this.process = process;
    this.exited = process.onExit().thenApply(Process::exitValue);
  }

  @Override
  public long pid() {
    return process.pid();
  }

  @Override
  public Instant processStart() {
    return process.info().startInstant().orElse(null);
  }

  @Override
  public String domain() {
    return null;
  }

  @Override
  public CompletableFuture<Integer> exited() {
    return exited;
  }

  @Override
  public void stop(Duration grace) {
    stop(process.toHandle(), grace);
  }

  /** Ends {@code p}: SIGTERM, {@code grace} to go, then SIGKILL; waits (bounded) for it to go. */
  static void stop(ProcessHandle p, Duration grace) {
    if (!p.isAlive()) {
      return;
    }
    p.destroy();
    try {
      p.onExit().get(grace.toMillis(), TimeUnit.MILLISECONDS);
      return;
    } catch (TimeoutException e) {
      LOG.log(Level.WARNING, "VM process {0} did not end within {1}: killing it", p.pid(), grace);
    } catch (ExecutionException e) {
      return;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    p.destroyForcibly();
    try {
      p.onExit().get(10, TimeUnit.SECONDS);
    } catch (TimeoutException | ExecutionException e) {
      LOG.log(Level.WARNING, "VM process {0} is still there 10 s after SIGKILL", p.pid());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
