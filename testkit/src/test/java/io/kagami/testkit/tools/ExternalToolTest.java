package io.kagami.testkit.tools;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExternalToolTest {
  private static final Duration T = Duration.ofSeconds(30);

  @Test
  void capturesExitCodeAndBothStreamsSeparately() throws Exception {
    ExternalTool.Result r =
        ExternalTool.require("sh").run(T, "-c", "printf 'to out'; printf 'to err' >&2; exit 3");
    assertThat(r.exitCode()).isEqualTo(3);
    assertThat(r.stdout()).isEqualTo("to out");
    assertThat(r.stderr()).isEqualTo("to err");
    assertThat(r.succeeded()).isFalse();
    assertThatThrownBy(r::requireSuccess)
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("exited with 3")
        .hasMessageContaining("to err");
  }

  @Test
  void standardInputIsClosedSoProgramsDoNotWaitForIt() throws Exception {
    ExternalTool.Result r = ExternalTool.require("cat").run(T).requireSuccess();
    assertThat(r.stdout()).isEmpty();
  }

  @Test
  void timeoutKillsTheProgramAndItsChildren() throws Exception {
    assertThatThrownBy(
            () ->
                ExternalTool.require("sh")
                    .run(Duration.ofMillis(200), "-c", "echo started; sleep 60 & wait"))
        .isInstanceOfSatisfying(
            ToolTimeoutException.class,
            e -> assertThat(e.timeout()).isEqualTo(Duration.ofMillis(200)))
        .hasMessageContaining("did not finish within PT0.2S")
        .hasMessageContaining("started");
  }

  @Test
  void environmentAndDirectoryArePassed(@TempDir Path dir) throws Exception {
    ExternalTool.Result r =
        ExternalTool.require("sh")
            .withEnv("KAGAMI_PROBE", "42")
            .inDirectory(dir)
            .run(T, "-c", "echo $KAGAMI_PROBE; pwd")
            .requireSuccess();
    assertThat(r.stdout().lines()).containsExactly("42", dir.toRealPath().toString());
  }

  @Test
  void missingToolFailsNamingTheDebianPackage() {
    assertThat(ExternalTool.find("nbdcopy", "")).isEmpty();
    assertThatThrownBy(() -> ExternalTool.require("kagami-no-such-tool"))
        .isInstanceOf(MissingToolException.class)
        .hasMessage(
            "kagami-no-such-tool not found on PATH: install kagami-no-such-tool (scripts/test installs it)");
    MissingToolException e =
        new MissingToolException("nbdcopy", ExternalTool.debianPackage("nbdcopy"));
    assertThat(e)
        .hasMessage("nbdcopy not found on PATH: install libnbd-bin (scripts/test installs it)");
    assertThat(ExternalTool.debianPackage("qemu-io")).isEqualTo("qemu-utils");
  }

  @Test
  void findsToolsBySearchPathAndByFile(@TempDir Path dir) throws Exception {
    Path script = Files.writeString(dir.resolve("probe"), "#!/bin/sh\necho probe \"$@\"\n");
    script.toFile().setExecutable(true);
    assertThat(ExternalTool.find("probe", dir.toString())).contains(script);
    assertThat(ExternalTool.of(script).run(T, "a", "b").requireSuccess().stdout())
        .isEqualTo("probe a b\n");
    assertThatThrownBy(() -> ExternalTool.of(dir)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theTestToolsAreInstalled() throws Exception {
    // scripts/test installs these; a missing one fails here with the package to install.
    for (String tool :
        new String[] {"qemu-io", "qemu-img", "qemu-nbd", "nbdcopy", "nbdinfo", "fio"}) {
      ExternalTool.Result r = ExternalTool.require(tool).run(T, "--version").requireSuccess();
      assertThat(r.stdout() + r.stderr()).as(tool + " --version").isNotBlank();
    }
  }
}
