package io.kagami.replicator.nbd;

import static org.assertj.core.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a real client program (qemu-io, nbdcopy, fio ...) with a time limit. A program that is not
 * installed fails the test with the package to install: these tests exist to prove real clients
 * work, so skipping them would prove nothing.
 */
final class ExternalTool {
  /** What a finished program printed and returned. */
  record Result(List<String> command, int exitCode, String stdout, String stderr) {
    String describe() {
      return String.join(" ", command) + "\nexit code " + exitCode + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + stderr;
    }

    String output() {
      return stdout + stderr;
    }
  }

  private ExternalTool() {}

  /** Fails the test unless {@code program} is on the PATH. */
  static void require(String program, String debianPackage) {
    if (find(program) == null) {
      fail(program + " is not installed, and this test needs the real client; install the Debian package " + debianPackage + " (scripts/test installs the test tools)");
    }
  }

  private static Path find(String program) {
    String path = System.getenv("PATH");
    if (path == null) {
      return null;
    }
    for (String dir : path.split(File.pathSeparator)) {
      Path p = Path.of(dir, program);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  /** Runs the program in {@code workDir}, killing it and failing the test after {@code timeout}. */
  static Result run(Path workDir, Duration timeout, String... command) throws IOException, InterruptedException {
    List<String> cmd = List.of(command);
    Path out = Files.createTempFile(workDir, "stdout-", ".txt");
    Path err = Files.createTempFile(workDir, "stderr-", ".txt");
    Process p = new ProcessBuilder(new ArrayList<>(cmd)).directory(workDir.toFile()).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    p.getOutputStream().close(); // no input: a tool that reads stdin sees its end at once
    if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
      fail(String.join(" ", cmd) + " did not finish within " + timeout.toSeconds() + " s\n--- stdout ---\n" + Files.readString(out, StandardCharsets.UTF_8) + "\n--- stderr ---\n" + Files.readString(err, StandardCharsets.UTF_8));
    }
    return new Result(cmd, p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
  }

  /** Runs the program and fails the test, with everything it printed, unless it exits 0. */
  static Result succeed(Path workDir, Duration timeout, String... command) throws IOException, InterruptedException {
    Result r = run(workDir, timeout, command);
    if (r.exitCode() != 0) {
      fail("expected success from:\n" + r.describe());
    }
    return r;
  }
}
