package io.kagami.site.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The QEMU command line of each bus is one the real {@code qemu-system-x86_64} accepts: started
 * paused ({@code -S}) against a real NBD export ({@code qemu-nbd}), it opens the disk over NBD and
 * creates every device (a wrong bus or controller name fails here), then quits from its monitor.
 * Without KVM and NICs (bridges need root and a bridge helper); UEFI needs OVMF, which the planner
 * checks for.
 */
class QemuCommandStartsTest {
  private static final Duration T = Duration.ofSeconds(60);

  @TempDir Path dir;

  private static final String PROFILES =
      """
      servers:
        - {name: v, volumes: [disk], diskBus: virtio}
        - {name: s, volumes: [disk], diskBus: sata}
        - {name: sp, volumes: [disk], diskBus: sata, machine: pc}
        - {name: i, volumes: [disk], diskBus: ide, machine: pc}
      """;

  @Test
  void qemuAcceptsTheCommandLineOfEachBus() throws Exception {
    int port = FreePorts.loopbackPort();
    int drillPort = FreePorts.loopbackPort();
    // A drill's disks are the site's drill clones, exported as <volume>-drill.
    ProcessHandle nbd = serve("disk", port);
    ProcessHandle drillNbd = serve("disk-drill", drillPort);
    try {
      RecoveryProfiles p = RecoveryProfilesLoader.parse(PROFILES, "recovery.yaml").profiles();
      DrHost host =
          new DrHost(
              1, 1L << 30, false, ExternalTool.require(DrHost.QEMU).executable(), null, null);
      for (ServerProfile s : p.servers()) {
        for (boolean drill : new boolean[] {false, true}) {
          Launch launch =
              new Launch(
                  "127.0.0.1",
                  drill ? drillPort : port,
                  drill,
                  dir.resolve("nvram"),
                  dir.resolve(s.name() + (drill ? "-drill" : "") + ".console"));
          List<String> argv = new ArrayList<>(QemuCommand.argv(s, p, host, launch));
          argv.addAll(List.of("-S", "-monitor", "stdio"));
          assertStartsAndQuits(argv, s.name() + (drill ? " (drill)" : ""));
        }
      }
    } finally {
      for (ProcessHandle h : List.of(nbd, drillNbd)) {
        h.destroy();
        h.onExit().get(30, TimeUnit.SECONDS);
      }
    }
  }

  /** {@code qemu-nbd} serving a fresh 16 MiB image as {@code export} on {@code port}. */
  private ProcessHandle serve(String export, int port) throws Exception {
    Path image = dir.resolve(export + ".img");
    ExternalTool.require("qemu-img").runOk(T, "create", "-f", "raw", image.toString(), "16M");
    Path pid = dir.resolve(export + ".pid");
    // --fork returns once the export is served, so no waiting for the port.
    ExternalTool.require("qemu-nbd")
        .runOk(
            T,
            "--fork",
            "--persistent",
            "--pid-file",
            pid.toString(),
            "-b",
            "127.0.0.1",
            "-p",
            Integer.toString(port),
            "-x",
            export,
            "-f",
            "raw",
            image.toString());
    return ProcessHandle.of(Long.parseLong(Files.readString(pid).strip())).orElseThrow();
  }

  private void assertStartsAndQuits(List<String> argv, String what)
      throws IOException, InterruptedException {
    Path out = dir.resolve("qemu.out");
    Process q =
        new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    try (OutputStream in = q.getOutputStream()) {
      in.write("quit\n".getBytes(StandardCharsets.UTF_8));
    }
    boolean exited = q.waitFor(T.toSeconds(), TimeUnit.SECONDS);
    if (!exited) {
      q.destroyForcibly();
      q.onExit().join();
    }
    String output = Files.readString(out);
    assertThat(exited).as("%s: qemu did not quit within %s: %s", what, T, output).isTrue();
    assertThat(q.exitValue())
        .as("%s: qemu exit for %s\n%s", what, String.join(" ", argv), output)
        .isZero();
  }
}
