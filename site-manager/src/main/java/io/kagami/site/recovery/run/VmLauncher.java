package io.kagami.site.recovery.run;

import io.kagami.site.recovery.Launch;
import io.kagami.site.recovery.RecoveryProfiles;
import io.kagami.site.recovery.ServerProfile;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;

/**
 * Starts one server's VM: the seam between the orchestrator and QEMU or libvirt (tests start small
 * real processes instead). The VM's serial console must end up in {@code launch.console()}, which
 * the orchestrator follows.
 */
public interface VmLauncher {

  /** What is started: the server, its profile file's networks, where its disks and console are. */
  record Spec(
      String runId, int attempt, ServerProfile server, RecoveryProfiles profiles, Launch launch) {}

  /** Starts the VM; returns once its process (or domain) runs. */
  RunningVm launch(Spec spec) throws IOException;

  /** A started VM. */
  interface RunningVm {
    /** The QEMU process's id, or -1 when libvirt owns it. */
    long pid();

    /** When that process started (with the pid: the same process after a restart), or null. */
    Instant processStart();

    /** The libvirt domain's name, or null for a process of our own. */
    String domain();

    /** Completes with the exit code when the VM's process ends (never for a libvirt domain). */
    CompletableFuture<Integer> exited();

    /** Powers it off: {@code grace} to end, then killed; returns once it is gone. */
    void stop(Duration grace);
  }
}
