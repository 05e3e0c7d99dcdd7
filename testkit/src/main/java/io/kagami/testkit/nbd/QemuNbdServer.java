package io.kagami.testkit.nbd;

import io.kagami.clock.SystemTime;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A {@code qemu-nbd} process serving a raw image file on 127.0.0.1: the reference server that tests
 * and benchmarks compare Kagami against.
 *
 * <p>Readiness without polling the port: qemu-nbd writes its {@code --pid-file} only after it
 * listens and the export is set up, so {@link #start} waits (bounded, via a file watch) for that
 * file to appear or for the process to exit. The process is our direct child, so it is reaped
 * normally. {@link #close()} sends SIGTERM, waits, then kills; it is idempotent.
 */
public final class QemuNbdServer implements AutoCloseable {
  /** Bound for start-up and for shutdown after SIGTERM. */
  public static final Duration TIMEOUT = Duration.ofSeconds(30);

  private static final int PORT_ATTEMPTS = 5;

  private final Process process;
  private final Path workDir;
  private final InetSocketAddress address;
  private final String exportName;

  private QemuNbdServer(
      Process process, Path workDir, InetSocketAddress address, String exportName) {
    this.process = process;
    this.workDir = workDir;
    this.address = address;
    this.exportName = exportName;
  }

  /**
   * Serves {@code image} (raw format) as {@code exportName} on a free loopback port, accepting any
   * number of successive connections ({@code --persistent}) and up to 16 at once, with TRIM
   * punching holes ({@code --discard=unmap}).
   */
  public static QemuNbdServer start(Path image, String exportName)
      throws IOException, InterruptedException {
    return start(image, exportName, List.of());
  }

  /** As {@link #start(Path, String)}, with further qemu-nbd options (e.g. {@code --read-only}). */
  public static QemuNbdServer start(Path image, String exportName, List<String> extraOptions)
      throws IOException, InterruptedException {
    ExternalTool qemuNbd = ExternalTool.require("qemu-nbd");
    IOException lastFailure = null;
    for (int attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      int port = FreePorts.loopbackPort();
      Path workDir = Files.createTempDirectory("kagami-qemu-nbd-");
      List<String> command =
          new ArrayList<>(
              List.of(
                  qemuNbd.executable().toString(),
                  "-f",
                  "raw",
                  "-b",
                  "127.0.0.1",
                  "-p",
                  Integer.toString(port),
                  "-x",
                  exportName));
      command.addAll(
          List.of(
              "--persistent",
              "--shared=16",
              "--discard=unmap",
              "--pid-file",
              workDir.resolve("pid").toString()));
      command.addAll(extraOptions);
      command.add(image.toAbsolutePath().toString());
      Process p =
          new ProcessBuilder(command)
              .redirectOutput(workDir.resolve("stdout").toFile())
              .redirectError(workDir.resolve("stderr").toFile())
              .start();
      p.getOutputStream().close();
      QemuNbdServer server =
          new QemuNbdServer(
              p, workDir, new InetSocketAddress(FreePorts.loopback(), port), exportName);
      try {
        if (server.awaitReady(workDir.resolve("pid"))) {
          return server;
        }
        String stderr = server.stderr();
        server.close();
        lastFailure =
            new IOException(
                "qemu-nbd exited with "
                    + p.exitValue()
                    + " before serving: "
                    + String.join(" ", command)
                    + "\n"
                    + stderr.stripTrailing());
        if (!stderr.contains("Address already in use")) {
          throw lastFailure;
        }
      } catch (IOException | InterruptedException | RuntimeException e) {
        server.close();
        throw e;
      }
    }
    throw lastFailure;
  }

  public InetSocketAddress address() {
    return address;
  }

  public int port() {
    return address.getPort();
  }

  public String exportName() {
    return exportName;
  }

  /** {@code nbd://127.0.0.1:PORT/EXPORT}, as fio, nbdcopy and nbdinfo take it. */
  public String uri() {
    return "nbd://127.0.0.1:" + port() + "/" + exportName;
  }

  /** Connects an {@link NbdTestClient} to this server's export. */
  public NbdTestClient connect() throws IOException {
    return NbdTestClient.connect(address, exportName);
  }

  public long pid() {
    return process.pid();
  }

  /** What qemu-nbd has written to stderr so far. */
  public String stderr() throws IOException {
    Path err = workDir.resolve("stderr");
    return Files.exists(err) ? Files.readString(err, StandardCharsets.UTF_8) : "";
  }

  /** SIGTERM, bounded wait, SIGKILL if needed; removes the working directory. Idempotent. */
  @Override
  public void close() {
    try {
      if (process.isAlive()) {
        process.destroy();
        if (!process.waitFor(TIMEOUT.toNanos(), TimeUnit.NANOSECONDS)) {
          process.destroyForcibly();
          process.waitFor(TIMEOUT.toNanos(), TimeUnit.NANOSECONDS);
        }
      }
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    deleteQuietly(workDir);
  }

  @Override
  public String toString() {
    return "qemu-nbd[" + uri() + ", pid " + pid() + "]";
  }

  /**
   * True once the pid file exists; false if the process exits first. Throws after {@link #TIMEOUT}.
   */
  private boolean awaitReady(Path pidFile) throws IOException, InterruptedException {
    long deadline = SystemTime.NANO.nanoTime() + TIMEOUT.toNanos();
    try (WatchService watch = FileSystems.getDefault().newWatchService()) {
      pidFile.getParent().register(watch, StandardWatchEventKinds.ENTRY_CREATE);
      // An exit closes the watch, which wakes the wait below: no polling either way.
      process.onExit().thenRun(() -> closeQuietly(watch));
      while (!Files.exists(pidFile)) {
        long left = deadline - SystemTime.NANO.nanoTime();
        if (left <= 0) {
          throw new IOException(
              "qemu-nbd did not start serving within " + TIMEOUT + ": " + stderr().stripTrailing());
        }
        WatchKey key = watch.poll(left, TimeUnit.NANOSECONDS);
        if (key != null) {
          key.pollEvents();
          key.reset();
        }
      }
      return true;
    } catch (ClosedWatchServiceException exited) {
      process.waitFor();
      return false;
    }
  }

  private static void closeQuietly(WatchService watch) {
    try {
      watch.close();
    } catch (IOException ignored) {
      // Closing only serves to wake the waiter.
    }
  }

  private static void deleteQuietly(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path f : files.sorted((x, y) -> y.getNameCount() - x.getNameCount()).toList()) {
        Files.deleteIfExists(f);
      }
    } catch (IOException ignored) {
      // A temp directory left behind is harmless.
    }
  }
}
