package io.kagami.site.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kagami.clock.SystemTime;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A Kagami site running as a real process ({@code kagami run --config}), as an operator runs it:
 * started from the test's class path with the same JVM, stopped with SIGTERM or killed with
 * SIGKILL. Its output goes to a log file next to its configuration.
 */
final class SiteProcess implements AutoCloseable {
  static final ObjectMapper JSON = new ObjectMapper();
  private final Path config;
  private final String admin;
  private final Path log;
  private Process process;
  private List<String> jvmOptions = List.of();
  private final javax.net.ssl.SSLContext tls;

  SiteProcess(Path config, String admin) {
    this(config, admin, null);
  }

  /**
   * {@code tls}: the admin port speaks HTTPS and this client context trusts its certificate; null:
   * plain HTTP.
   */
  SiteProcess(Path config, String admin, javax.net.ssl.SSLContext tls) {
    this.config = config;
    this.admin = admin;
    this.tls = tls;
    this.log = config.resolveSibling(config.getFileName() + ".log");
  }

  private HttpClient client() {
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2));
    if (tls != null) {
      b.sslContext(tls).sslParameters(io.kagami.site.auth.HttpTls.parameters(tls));
    }
    return b.build();
  }

  private URI uri(String path) {
    return URI.create((tls == null ? "http://" : "https://") + admin + path);
  }

  /**
   * Extra JVM options for the following starts (e.g. ChaosIT's faster-starting JIT, class data
   * archive and RocksDB library path); none by default.
   */
  SiteProcess jvmOptions(List<String> options) {
    jvmOptions = List.copyOf(options);
    return this;
  }

  SiteProcess start() throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("--enable-native-access=ALL-UNNAMED");
    // What the launchers pass: heap and direct memory from the site's memory budget, exit on OOM.
    if (jvmOptions.stream().noneMatch(o -> o.matches("-XX:\\+Use\\w+GC"))) {
      // The launchers' collector, unless the test picked its own (ChaosIT: the serial one).
      cmd.add("-XX:+UseG1GC");
      cmd.add("-XX:G1HeapRegionSize=4m");
    }
    cmd.addAll(io.kagami.site.cli.JvmOptions.of("run", "--config", config.toString()));
    if (jvmOptions.stream().noneMatch(o -> o.startsWith("-Dkagami.qemu.accel="))) {
      // A recovery's VMs boot with TCG: these machines' /dev/kvm opens, which the auto-detection
      // takes for working KVM, but aborts every guest (QEMU exit 134).
      cmd.add("-Dkagami.qemu.accel=tcg");
    }
    cmd.addAll(jvmOptions);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("io.kagami.site.cli.Main");
    cmd.add("run");
    cmd.add("--config");
    cmd.add(config.toString());
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putIfAbsent("MALLOC_ARENA_MAX", "2");
    process =
        pb.redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    awaitStatus(s -> true, Duration.ofSeconds(60), "admin endpoint answering");
    return this;
  }

  /** The exit status once the process ended by itself (or was stopped); empty while it runs. */
  java.util.OptionalInt exited() {
    return process != null && !process.isAlive()
        ? java.util.OptionalInt.of(process.exitValue())
        : java.util.OptionalInt.empty();
  }

  /** SIGKILL: no shutdown hook, no flush, no goodbye. */
  void kill9() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /** SIGTERM and wait for the clean shutdown. */
  int stop() throws InterruptedException {
    process.destroy();
    if (!process.waitFor(60, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      throw new AssertionError("site did not stop within 60 s of SIGTERM; log: " + log);
    }
    return process.exitValue();
  }

  /**
   * SIGTERM, as {@link #stop()}, and how long the process took to exit; fails when it did not exit
   * within {@code bound}, with the log (which says what the shutdown waited for).
   */
  Duration stopWithin(Duration bound, String after) throws IOException, InterruptedException {
    long start = SystemTime.NANO.nanoTime();
    process.destroy();
    boolean exited = process.waitFor(bound.toNanos(), TimeUnit.NANOSECONDS);
    Duration took = Duration.ofNanos(SystemTime.NANO.nanoTime() - start);
    if (!exited) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
      throw new AssertionError(
          "site did not exit within "
              + bound.toSeconds()
              + " s of SIGTERM after "
              + after
              + "; log:\n"
              + log());
    }
    return took;
  }

  boolean alive() {
    return process != null && process.isAlive();
  }

  /** The process id of the site's JVM (the last one started). */
  long pid() {
    return process.pid();
  }

  /**
   * A line of the process's {@code /proc/<pid>/status} in bytes, e.g. {@code VmRSS} (resident now)
   * or {@code VmHWM} (the most it was resident).
   */
  long procStatusBytes(String field) throws IOException {
    for (String line :
        Files.readAllLines(Path.of("/proc", String.valueOf(process.pid()), "status"))) {
      if (line.startsWith(field + ":")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    throw new IOException("no " + field + " in /proc/" + process.pid() + "/status");
  }

  /** Waits (bounded) for the process to exit on its own; its exit code. */
  int awaitExit(Duration within) throws InterruptedException, IOException {
    if (!process.waitFor(within.toNanos(), TimeUnit.NANOSECONDS)) {
      throw new AssertionError(
          "site still running " + within.toSeconds() + " s later; log:\n" + log());
    }
    return process.exitValue();
  }

  String log() throws IOException {
    return Files.exists(log) ? Files.readString(log) : "";
  }

  /** The site's {@code GET /metrics} body. */
  String metrics() throws IOException, InterruptedException {
    try (HttpClient http = client()) {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(uri("/metrics")).timeout(Duration.ofSeconds(5)).build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IOException("metrics answered " + r.statusCode() + ": " + r.body());
      }
      return r.body();
    }
  }

  JsonNode status() throws IOException, InterruptedException {
    try (HttpClient http = client()) {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(uri("/status")).timeout(Duration.ofSeconds(5)).build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IOException("status answered " + r.statusCode() + ": " + r.body());
      }
      return JSON.readTree(r.body());
    }
  }

  /** Polls status (bounded) until {@code ok} holds; fails with the last status and the log. */
  JsonNode awaitStatus(Predicate<JsonNode> ok, Duration timeout, String what) throws IOException {
    long deadline = SystemTime.NANO.nanoTime() + timeout.toNanos();
    JsonNode last = null;
    Exception lastError = null;
    while (SystemTime.NANO.nanoTime() < deadline) {
      if (process != null && !process.isAlive()) {
        throw new AssertionError(
            "site exited with "
                + process.exitValue()
                + " while waiting for "
                + what
                + "; log:\n"
                + log());
      }
      try {
        last = status();
        if (ok.test(last)) {
          return last;
        }
      } catch (IOException e) {
        lastError = e;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      }
      try {
        process.onExit().get(100, TimeUnit.MILLISECONDS);
      } catch (java.util.concurrent.TimeoutException expected) {
        // still running: poll again
      } catch (Exception e) {
        // exited: reported above on the next pass
      }
    }
    throw new AssertionError(
        "timed out after "
            + timeout.toSeconds()
            + " s waiting for "
            + what
            + "; last status "
            + last
            + ", last error "
            + lastError
            + "; log:\n"
            + log());
  }

  @Override
  public void close() {
    if (alive()) {
      process.destroyForcibly();
      process.onExit().orTimeout(30, TimeUnit.SECONDS).join();
    }
  }
}
