package io.kagami.appliance.deb;

import io.kagami.clock.SystemTime;
import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A clean Debian 12 root file system for package tests, built with mmdebstrap and run with chroot:
 * no JDK, nothing of Kagami, just what a minimal Debian 12 machine has (minbase plus systemd, its
 * init, so the units can be checked and enabled as an operator would).
 *
 * <p>The base is built once per package list and kept as a tarball in the cache directory, named by
 * a hash of the mmdebstrap arguments; every test unpacks a fresh copy, so tests never see each
 * other's changes. Commands run in the root through {@code unshare --mount --pid --fork
 * --mount-proc=ROOT/proc chroot ROOT}: a private mount namespace gives the root its own /proc
 * (nothing is mounted on the host, nothing to unmount after a crash), a PID namespace takes every
 * process the command started down with it, and the environment is emptied so nothing of the host
 * (JAVA_HOME, PATH to a JDK) leaks in. The network is the host's: servers in the root listen on
 * loopback ports the test picks, and the test's own clients reach them directly. Needs root.
 */
final class DebianRoot implements AutoCloseable {
  /**
   * mmdebstrap's arguments before the output file; their hash names the cached tarball. The apt
   * lists stay, so apt can resolve the package's dependencies; dpkg in the root does not fsync
   * every file it unpacks (a throwaway root: that only made each install slow on a busy disk).
   */
  static final List<String> MMDEBSTRAP_ARGS =
      List.of("--mode=root", "--variant=minbase", "--include=systemd", "--skip=cleanup/apt/lists", "--dpkgopt=force-unsafe-io", "bookworm");

  private static final List<String> CLEAN_ENV =
      List.of("env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8", "DEBIAN_FRONTEND=noninteractive");

  private final Path dir;

  private DebianRoot(Path dir) {
    this.dir = dir;
  }

  /**
   * A fresh root unpacked into {@code dir} (which must not exist) from the cached base tarball,
   * building the tarball first when the cache has none.
   */
  static DebianRoot create(Path cacheDir, Path dir) throws IOException, InterruptedException {
    Path base = baseTarball(cacheDir);
    Files.createDirectories(dir);
    ExternalTool.require("tar").runOk(Duration.ofMinutes(5), "--numeric-owner", "-xpf", base.toString(), "-C", dir.toString());
    return new DebianRoot(dir);
  }

  /** The cached base tarball, built when missing (minutes; later runs take it as it is). */
  static Path baseTarball(Path cacheDir) throws IOException, InterruptedException {
    Path tarball = cacheDir.resolve("debian-root").resolve(sha256(String.join("\n", MMDEBSTRAP_ARGS)).substring(0, 32) + ".tar");
    if (Files.isRegularFile(tarball)) {
      return tarball;
    }
    Files.createDirectories(tarball.getParent());
    Path partial = Files.createTempFile(tarball.getParent(), ".build-", ".tar");
    try {
      List<String> args = new ArrayList<>(MMDEBSTRAP_ARGS);
      args.add(partial.toString());
      long started = SystemTime.NANO.nanoTime();
      ExternalTool.require("mmdebstrap").run(Duration.ofMinutes(20), args).requireSuccess();
      System.out.printf("DebianRoot: built the base root %s in %d s%n", tarball, Duration.ofNanos(SystemTime.NANO.nanoTime() - started).toSeconds());
      // Renamed into place whole: a concurrent test sees a complete tarball or none.
      Files.move(partial, tarball, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(partial);
    }
    return tarball;
  }

  Path dir() {
    return dir;
  }

  /** {@code path} (absolute inside the root) as seen from the host. */
  Path path(String path) {
    return dir.resolve(path.startsWith("/") ? path.substring(1) : path);
  }

  /** Runs {@code command} inside the root with a clean environment plus {@code env} (KEY=VALUE). */
  ExternalTool.Result run(Duration timeout, List<String> env, String... command) throws IOException, InterruptedException {
    return ExternalTool.require("unshare").run(timeout, inRoot(env, command));
  }

  /** {@link #run} without extra environment. */
  ExternalTool.Result run(Duration timeout, String... command) throws IOException, InterruptedException {
    return run(timeout, List.of(), command);
  }

  /** {@link #run} through {@code sh -c}. */
  ExternalTool.Result sh(Duration timeout, String script) throws IOException, InterruptedException {
    return run(timeout, "sh", "-c", script);
  }

  /**
   * A process builder for a long-running command in the root (the caller starts it, reads its
   * output and stops it). SIGTERM to the process it starts reaches the command too.
   */
  ProcessBuilder background(List<String> env, String... command) {
    List<String> full = new ArrayList<>();
    full.add(ExternalTool.require("unshare").executable().toString());
    full.addAll(inRoot(env, command));
    return new ProcessBuilder(full);
  }

  private List<String> inRoot(List<String> env, String... command) {
    List<String> args = new ArrayList<>(List.of("--mount", "--pid", "--fork", "--kill-child=SIGTERM", "--mount-proc=" + dir.resolve("proc"), "chroot", dir.toString()));
    args.addAll(CLEAN_ENV);
    args.addAll(env);
    args.addAll(List.of(command));
    return args;
  }

  /** Deletes the root; refuses if anything is still mounted below it (it would delete through). */
  @Override
  public void close() throws IOException {
    String mounts = Files.readString(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8);
    for (String line : mounts.split("\n")) {
      String[] fields = line.split(" ");
      if (fields.length > 4 && fields[4].startsWith(dir.toString() + "/")) {
        throw new IllegalStateException("not deleting " + dir + ": " + fields[4] + " is still mounted");
      }
    }
    try {
      ExternalTool.require("rm").runOk(Duration.ofMinutes(5), "-rf", "--one-file-system", dir.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while deleting " + dir, e);
    }
  }

  static String sha256(String text) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError("every JDK has SHA-256", e);
    }
  }
}
