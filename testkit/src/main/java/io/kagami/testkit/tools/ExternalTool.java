package io.kagami.testkit.tools;

import io.kagami.clock.SystemTime;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Runs a real program (qemu-io, nbdcopy, nbdinfo, qemu-img, fio ...) to completion under a time
 * limit, with stdout and stderr captured separately. Immutable; {@link #inDirectory} and {@link
 * #withEnv} return adjusted copies.
 *
 * <p>Output goes to temporary files rather than pipes, so a program that leaves a daemon behind
 * holding its stdout cannot make {@link #run} hang. Standard input is closed at once (qemu-io, for
 * one, would otherwise wait for commands). On timeout the program and its descendants are killed
 * and {@link ToolTimeoutException} reports what they had printed.
 */
public final class ExternalTool {
  /** Where Debian installs what the tests drive; scripts/test installs these packages. */
  private static final Map<String, String> DEBIAN_PACKAGES =
      Map.ofEntries(
          Map.entry("fio", "fio"),
          Map.entry("qemu-img", "qemu-utils"),
          Map.entry("qemu-io", "qemu-utils"),
          Map.entry("qemu-nbd", "qemu-utils"),
          Map.entry("nbdcopy", "libnbd-bin"),
          Map.entry("nbdinfo", "libnbd-bin"),
          Map.entry("nbdsh", "python3-libnbd"),
          Map.entry("nbdkit", "nbdkit"),
          Map.entry("nbd-client", "nbd-client"),
          Map.entry("promtool", "prometheus"),
          Map.entry("jq", "jq"),
          Map.entry("virt-xml-validate", "libvirt-clients"),
          Map.entry("xmllint", "libxml2-utils"));

  /** Searched after PATH: nbd-client lives in /usr/sbin, which an ordinary user's PATH lacks. */
  private static final List<String> SBIN_DIRECTORIES = List.of("/usr/sbin", "/sbin");

  private static final Duration KILL_GRACE = Duration.ofSeconds(10);

  /** What a finished program did. */
  public record Result(
      List<String> command, int exitCode, String stdout, String stderr, Duration elapsed) {
    public Result {
      command = List.copyOf(command);
    }

    public boolean succeeded() {
      return exitCode == 0;
    }

    /** Standard output followed by standard error: where a tool's message is, whichever it used. */
    public String output() {
      return stdout + stderr;
    }

    /** The command, its exit code and its output, for assertion messages. */
    public String describe() {
      return String.join(" ", command)
          + " exited with "
          + exitCode
          + section("stdout", stdout)
          + section("stderr", stderr);
    }

    /**
     * Returns this result if the exit code was 0, else throws an {@link AssertionError} showing the
     * output.
     */
    public Result requireSuccess() {
      if (exitCode != 0) {
        throw new AssertionError(
            String.join(" ", command)
                + " exited with "
                + exitCode
                + section("stdout", stdout)
                + section("stderr", stderr));
      }
      return this;
    }

    static String section(String name, String text) {
      return text.isBlank() ? "" : "\n--- " + name + " ---\n" + text.stripTrailing();
    }
  }

  private final String name;
  private final Path executable;
  private final Path directory;
  private final Map<String, String> environment;

  private ExternalTool(
      String name, Path executable, Path directory, Map<String, String> environment) {
    this.name = name;
    this.executable = executable;
    this.directory = directory;
    this.environment = environment;
  }

  /**
   * The program {@code name} from PATH (or /usr/sbin, /sbin). Throws {@link MissingToolException}
   * naming the Debian package to install when it is not there: tests fail, they do not skip.
   */
  public static ExternalTool require(String name) {
    Path executable =
        find(name).orElseThrow(() -> new MissingToolException(name, debianPackage(name)));
    return new ExternalTool(name, executable, null, Map.of());
  }

  /**
   * A program given by path (e.g. the repository's {@code kagami} launcher), which must be an
   * executable file.
   */
  public static ExternalTool of(Path executable) {
    if (!Files.isRegularFile(executable) || !Files.isExecutable(executable)) {
      throw new IllegalArgumentException(executable + " is not an executable file");
    }
    return new ExternalTool(executable.getFileName().toString(), executable, null, Map.of());
  }

  /** Where {@code name} is installed, if it is. */
  public static Optional<Path> find(String name) {
    return find(name, System.getenv("PATH"));
  }

  /** The Debian package that provides {@code tool}; the tool's own name when not known. */
  public static String debianPackage(String tool) {
    return DEBIAN_PACKAGES.getOrDefault(tool, tool);
  }

  static Optional<Path> find(String name, String searchPath) {
    if (name.isEmpty() || name.contains("/")) {
      throw new IllegalArgumentException(
          "expected a program name to look up on PATH, got \"" + name + "\"");
    }
    List<String> dirs = new ArrayList<>();
    if (searchPath != null) {
      dirs.addAll(List.of(searchPath.split(File.pathSeparator)));
    }
    dirs.addAll(SBIN_DIRECTORIES);
    for (String dir : dirs) {
      if (dir.isEmpty()) {
        continue;
      }
      Path candidate = Path.of(dir, name);
      if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }

  public String name() {
    return name;
  }

  public Path executable() {
    return executable;
  }

  /** A copy that runs the program in {@code dir}. */
  public ExternalTool inDirectory(Path dir) {
    return new ExternalTool(name, executable, dir, environment);
  }

  /** A copy that adds {@code key=value} to the program's environment. */
  public ExternalTool withEnv(String key, String value) {
    Map<String, String> env = new LinkedHashMap<>(environment);
    env.put(key, value);
    return new ExternalTool(name, executable, directory, Map.copyOf(env));
  }

  /** {@link #run} that fails the test, showing the output, unless the program exits 0. */
  public Result runOk(Duration timeout, String... args) throws IOException, InterruptedException {
    return run(timeout, args).requireSuccess();
  }

  /** Runs the program with {@code args} and waits at most {@code timeout} for it to exit. */
  public Result run(Duration timeout, String... args) throws IOException, InterruptedException {
    return run(timeout, List.of(args));
  }

  /** Runs the program with {@code args} and waits at most {@code timeout} for it to exit. */
  public Result run(Duration timeout, List<String> args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(executable.toString());
    command.addAll(args);
    Path stdout = Files.createTempFile("kagami-" + name + "-", ".out");
    Path stderr = Files.createTempFile("kagami-" + name + "-", ".err");
    try {
      ProcessBuilder pb =
          new ProcessBuilder(command)
              .redirectOutput(stdout.toFile())
              .redirectError(stderr.toFile());
      if (directory != null) {
        pb.directory(directory.toFile());
      }
      pb.environment().putAll(environment);
      long started = SystemTime.NANO.nanoTime();
      Process process = pb.start();
      process.getOutputStream().close();
      boolean finished;
      try {
        finished = process.waitFor(timeout.toNanos(), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        kill(process);
        throw e;
      }
      if (!finished) {
        kill(process);
        throw new ToolTimeoutException(command, timeout, read(stdout), read(stderr));
      }
      Duration elapsed = Duration.ofNanos(SystemTime.NANO.nanoTime() - started);
      return new Result(command, process.exitValue(), read(stdout), read(stderr), elapsed);
    } finally {
      Files.deleteIfExists(stdout);
      Files.deleteIfExists(stderr);
    }
  }

  @Override
  public String toString() {
    return executable.toString();
  }

  private static void kill(Process process) throws InterruptedException {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    process.waitFor(KILL_GRACE.toNanos(), TimeUnit.NANOSECONDS);
  }

  private static String read(Path file) throws IOException {
    return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
  }
}
