package io.kagami.site.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kagami.clock.SystemTime;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * The real {@code prometheus} binary (Debian package {@code prometheus}) on a free loopback port
 * with its own storage in a temporary directory, scraping the given targets every second and
 * evaluating the given rule files every second. Queried through its HTTP API.
 */
final class PrometheusServer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final Path dir;
  private final Path log;
  private final int port;
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private Process process;

  PrometheusServer(Path dir, List<String> targets, List<Path> ruleFiles) throws IOException {
    this(dir, targets, ruleFiles, java.util.Map.of());
  }

  /** {@code externalLabels}: global.external_labels, e.g. the rules' kagami_runbook_base. */
  PrometheusServer(
      Path dir,
      List<String> targets,
      List<Path> ruleFiles,
      java.util.Map<String, String> externalLabels)
      throws IOException {
    this.dir = Files.createDirectories(dir);
    this.log = dir.resolve("prometheus.log");
    this.port = FreePorts.loopbackPort();
    StringBuilder rules = new StringBuilder();
    ruleFiles.forEach(r -> rules.append("  - \"").append(r.toAbsolutePath()).append("\"\n"));
    StringBuilder t = new StringBuilder();
    targets.forEach(x -> t.append(t.isEmpty() ? "" : ", ").append('"').append(x).append('"'));
    StringBuilder labels = new StringBuilder();
    externalLabels.forEach(
        (k, v) ->
            labels
                .append(labels.isEmpty() ? "" : ", ")
                .append(k)
                .append(": \"")
                .append(v)
                .append('"'));
    Files.writeString(
        dir.resolve("prometheus.yml"),
        """
        global:
          scrape_interval: 1s
          scrape_timeout: 900ms
          evaluation_interval: 1s
          external_labels: {%s}
        rule_files:
        %s
        scrape_configs:
          - job_name: kagami
            static_configs:
              - targets: [%s]
        """
            .formatted(labels, rules.isEmpty() ? "  []" : rules.toString().stripTrailing(), t));
  }

  PrometheusServer start() throws IOException, InterruptedException {
    Path bin = ExternalTool.require("prometheus").executable();
    process =
        new ProcessBuilder(
                bin.toString(),
                "--config.file=" + dir.resolve("prometheus.yml"),
                "--storage.tsdb.path=" + dir.resolve("data"),
                "--web.listen-address=127.0.0.1:" + port,
                "--log.level=warn")
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .start();
    await("Prometheus ready", Duration.ofSeconds(30), () -> get("/-/ready").statusCode() == 200);
    return this;
  }

  private HttpResponse<String> get(String pathAndQuery) throws IOException, InterruptedException {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + pathAndQuery))
            .timeout(Duration.ofSeconds(5))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** {@code GET /api/v1/...}: the {@code data} of a successful answer; an error answer throws. */
  JsonNode api(String pathAndQuery) throws IOException, InterruptedException {
    HttpResponse<String> r = get("/api/v1/" + pathAndQuery);
    JsonNode body = JSON.readTree(r.body());
    if (r.statusCode() != 200 || !body.path("status").asText().equals("success")) {
      throw new IOException(
          "Prometheus answered " + r.statusCode() + " to " + pathAndQuery + ": " + r.body());
    }
    return body.path("data");
  }

  /** An instant query's result vector. */
  JsonNode query(String promql) throws IOException, InterruptedException {
    return api("query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8)).path("result");
  }

  /** Polls {@code promql} (bounded) until its result vector satisfies {@code ok}; returns it. */
  JsonNode awaitQuery(String promql, Predicate<JsonNode> ok, Duration timeout, String what)
      throws IOException, InterruptedException {
    JsonNode[] last = {null};
    await(what + " (query " + promql + ")", timeout, () -> ok.test(last[0] = query(promql)));
    return last[0];
  }

  /** The alerts Prometheus holds (pending or firing), from {@code /api/v1/alerts}. */
  JsonNode alerts() throws IOException, InterruptedException {
    return api("alerts").path("alerts");
  }

  interface Check {
    boolean ok() throws IOException, InterruptedException;
  }

  /**
   * Polls {@code check} until it holds, at most {@code timeout}; a dead Prometheus fails at once.
   */
  void await(String what, Duration timeout, Check check) throws IOException, InterruptedException {
    long deadline = SystemTime.NANO.nanoTime() + timeout.toNanos();
    Exception lastError = null;
    while (SystemTime.NANO.nanoTime() < deadline) {
      if (!process.isAlive()) {
        throw new AssertionError(
            "prometheus exited with "
                + process.exitValue()
                + " while waiting for "
                + what
                + "; log:\n"
                + Files.readString(log));
      }
      try {
        if (check.ok()) {
          return;
        }
      } catch (IOException e) {
        lastError = e;
      }
      try {
        process.onExit().get(200, TimeUnit.MILLISECONDS); // a pause that ends early if it dies
      } catch (java.util.concurrent.TimeoutException
          | java.util.concurrent.ExecutionException expected) {
        // still running: poll again
      }
    }
    throw new AssertionError(
        "timed out after "
            + timeout.toSeconds()
            + " s waiting for "
            + what
            + "; last error "
            + lastError
            + "; log:\n"
            + Files.readString(log));
  }

  @Override
  public void close() {
    http.close();
    if (process != null && process.isAlive()) {
      process.destroy();
      try {
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
          process.destroyForcibly();
          process.waitFor(20, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}
