package io.kagami.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs a real external program (qemu-io, nbdcopy, fio...) with a time limit and captured output. */
public final class Tool {
  private static final Map<String, String> PACKAGES =
      Map.of("nbdcopy", "libnbd-bin", "nbdinfo", "libnbd-bin", "qemu-img", "qemu-utils", "qemu-io", "qemu-utils", "qemu-nbd", "qemu-utils", "fio", "fio", "nbdkit", "nbdkit");

  /** What the program did. */
  public record Result(List<String> command, int exitCode, String output) {
    public Result requireSuccess() {
      if (exitCode != 0) {
        throw new AssertionError(String.join(" ", command) + " exited with " + exitCode + ":\n" + output);
      }
      return this;
    }
  }

  private Tool() {}

  /** Fails (never skips) when {@code program} is not installed, naming the package. */
  public static void require(String program) {
    if (program.contains("/")) {
      if (!Files.isExecutable(Path.of(program))) {
        throw new AssertionError(program + " is not an executable file");
      }
      return;
    }
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (Files.isExecutable(Path.of(dir, program))) {
        return;
      }
    }
    throw new AssertionError(program + " not found: install " + PACKAGES.getOrDefault(program, program) + " (scripts/test installs it)");
  }

  public static Result run(Duration timeout, String... command) throws IOException, InterruptedException {
    require(command[0]);
    Path out = Files.createTempFile("kagami-tool-", ".log");
    try {
      Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
        throw new AssertionError(String.join(" ", command) + " did not finish within " + timeout.toSeconds() + " s:\n" + Files.readString(out));
      }
      return new Result(List.of(command), p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    } finally {
      Files.deleteIfExists(out);
    }
  }

  public static Result run(Duration timeout, List<String> command) throws IOException, InterruptedException {
    return run(timeout, command.toArray(String[]::new));
  }

  /** A random file of {@code bytes} bytes from {@code seed}. */
  public static Path randomFile(Path file, long bytes, long seed) throws IOException {
    java.util.Random r = new java.util.Random(seed);
    byte[] chunk = new byte[1 << 20];
    try (var o = Files.newOutputStream(file)) {
      for (long left = bytes; left > 0; left -= chunk.length) {
        r.nextBytes(chunk);
        o.write(chunk, 0, (int) Math.min(chunk.length, left));
      }
    }
    return file;
  }

  /** Asserts two files are byte-identical, naming the first differing offset. */
  public static void assertSameBytes(Path expected, Path actual, String what) throws IOException {
    long mismatch = Files.mismatch(expected, actual);
    if (mismatch != -1) {
      throw new AssertionError(String.format("%s differs at offset 0x%x (%s vs %s)", what, mismatch, expected.getFileName(), actual.getFileName()));
    }
  }

  /** Free loopback TCP ports. */
  public static List<Integer> freePorts(int n) throws IOException {
    List<java.net.ServerSocket> held = new ArrayList<>();
    List<Integer> ports = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress());
        held.add(s);
        ports.add(s.getLocalPort());
      }
    } finally {
      for (var s : held) {
        s.close();
      }
    }
    return ports;
  }
}
