package io.kagami.site.fence;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.failover.fence.FenceCommand;
import io.kagami.failover.fence.FenceResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The fence agent with real (tiny) shell scripts in the fence_ipmilan stdin style. */
class FenceAgentTest {
  @TempDir Path dir;

  private Path script(String name, String body) throws IOException {
    Path p = dir.resolve(name);
    Files.writeString(p, "#!/bin/sh\n" + body);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwx------"));
    return p;
  }

  @Test
  void exitZeroIsSuccessAndOptionsArriveAsKeyValueLinesOnStdin() throws Exception {
    Path seen = dir.resolve("stdin.txt");
    Path agent =
        script("fence_ok", "cat > '" + seen + "'\necho \"Success: Powered OFF $1\"\nexit 0\n");
    FenceResult r =
        new FenceAgent(
                new FenceCommand(
                    List.of(agent.toString(), "--verbose"),
                    Map.of("ip", "10.0.0.9", "plug", "tokyo-vm"),
                    Duration.ofSeconds(10)))
            .fenceOff();
    assertThat(r.success()).as(r.reason()).isTrue();
    assertThat(r.exitCode()).isZero();
    assertThat(r.output()).contains("Success: Powered OFF --verbose");
    List<String> stdin = Files.readAllLines(seen);
    assertThat(stdin.getFirst()).isEqualTo("action=off");
    assertThat(stdin).containsExactlyInAnyOrder("action=off", "ip=10.0.0.9", "plug=tokyo-vm");
  }

  @Test
  void nonZeroExitIsFailureWithTheAgentsLastWords() throws Exception {
    Path agent =
        script(
            "fence_fail",
            "cat >/dev/null\necho 'Connecting...' \necho 'Failed: Unable to obtain correct plug status' >&2\nexit 1\n");
    FenceResult r =
        new FenceAgent(
                new FenceCommand(List.of(agent.toString()), Map.of(), Duration.ofSeconds(10)))
            .fenceOff();
    assertThat(r.success()).isFalse();
    assertThat(r.exitCode()).isEqualTo(1);
    assertThat(r.timedOut()).isFalse();
    assertThat(r.reason())
        .contains("failed with exit status 1")
        .contains("NOT known to be fenced")
        .endsWith("Failed: Unable to obtain correct plug status");
  }

  @Test
  void hangingAgentIsKilledAtTheTimeoutAndCountsAsFailure() throws Exception {
    Path agent = script("fence_hang", "echo 'waiting for BMC'\nsleep 60\nexit 0\n");
    long start = SystemTime.NANO.nanoTime();
    FenceResult r =
        new FenceAgent(
                new FenceCommand(List.of(agent.toString()), Map.of(), Duration.ofMillis(500)))
            .fenceOff();
    long tookMs = SystemTime.NANO.nanosSince(start) / 1_000_000;
    assertThat(r.success()).isFalse();
    assertThat(r.timedOut()).isTrue();
    assertThat(r.reason()).contains("did not finish within 500ms; killed");
    assertThat(r.output()).contains("waiting for BMC");
    assertThat(tookMs).as("killed near its timeout, not after the script's 60s").isLessThan(10_000);
  }

  @Test
  void missingProgramIsAFailureNotAnException() throws Exception {
    FenceResult r =
        new FenceAgent(
                new FenceCommand(List.of(dir.resolve("fence_absent").toString()), Map.of(), null))
            .fenceOff();
    assertThat(r.success()).isFalse();
    assertThat(r.reason()).contains("could not start");
  }
}
