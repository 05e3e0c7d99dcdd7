package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operator's conventions, verb by verb, through the real launcher ({@code ./kagami}, with the
 * CLI's own JVM settings) against a real pair: every verb the help lists answers {@code --help} and
 * {@code kagami help VERB} with exit 0 and its exit codes; with {@code --json} its output parses,
 * on success and on every kind of error, and carries the exit code it ended with; each of the four
 * exit codes (failed 1, usage 2, refused 3, unreachable 4) appears where the help documents it. The
 * verbs are discovered from the help itself, so a new verb is covered without touching this test.
 */
class CliIT {
  private static final Duration T = Duration.ofSeconds(60);
  private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern COMMAND_LINE =
      Pattern.compile("^  (\\w[\\w-]*)\\s{2,}\\S", Pattern.MULTILINE);
  private static final Pattern EXIT_CODE_LINE =
      Pattern.compile("^  ([0-4])\\s{3}\\S", Pattern.MULTILINE);
  @TempDir Path dir;

  /**
   * {@code ./kagami} of this checkout, without a build (failsafe runs after package) and without a
   * site named in the environment.
   */
  private static ExternalTool kagami() {
    return ExternalTool.of(ROOT.resolve("kagami"))
        .withEnv("KAGAMI_SKIP_BUILD", "1")
        .withEnv("KAGAMI_ADMIN", "");
  }

  private static ExternalTool.Result run(ExternalTool tool, String... args)
      throws IOException, InterruptedException {
    return tool.run(T, args);
  }

  /**
   * Parses {@code r}'s standard output as JSON, failing with what the verb printed when it does not
   * parse.
   */
  private static JsonNode json(ExternalTool.Result r) {
    try {
      JsonNode n = JSON.readTree(r.stdout());
      assertThat(n).as("JSON from %s", r.describe()).isNotNull();
      return n;
    } catch (IOException e) {
      throw new AssertionError(
          "--json output does not parse: " + e.getMessage() + "\n" + r.describe(), e);
    }
  }

  /**
   * An error printed with --json: {"error": {kind, exitCode, message, next}}, its exitCode the
   * process's.
   */
  private static JsonNode jsonError(ExternalTool.Result r, int exitCode, String kind) {
    assertThat(r.exitCode()).as(r.describe()).isEqualTo(exitCode);
    JsonNode e = json(r).path("error");
    assertThat(e.path("exitCode").asInt(-1))
        .as("error.exitCode of " + r.describe())
        .isEqualTo(exitCode);
    assertThat(e.path("kind").asText()).as("error.kind of " + r.describe()).isEqualTo(kind);
    assertThat(e.path("message").asText())
        .as("error.message of " + r.describe())
        .isNotBlank()
        .doesNotContain("{\"");
    return e;
  }

  /**
   * One verb: --help and kagami help VERB agree and list the exit codes; a usage error is exit 2 as
   * JSON; with nothing listening, exit 4 saying what to do next.
   */
  private static void checkVerb(ExternalTool k, List<String> verb, int closedPort)
      throws Exception {
    String name = String.join(" ", verb);
    // --help and kagami help VERB: exit 0, the same text, with the exit codes.
    ExternalTool.Result help = run(k, concat(verb, "--help"));
    assertThat(help.exitCode()).as(help.describe()).isZero();
    assertThat(help.stdout())
        .as("kagami %s --help", name)
        .contains("Usage: kagami " + name)
        .contains("Exit codes:");
    List<String> helpVerb = new ArrayList<>(List.of("help"));
    helpVerb.addAll(verb);
    ExternalTool.Result h = k.run(T, helpVerb);
    assertThat(h.exitCode()).as(h.describe()).isZero();
    assertThat(h.stdout()).as("kagami help %s", name).isEqualTo(help.stdout());
    List<Integer> codes = new ArrayList<>();
    Matcher m =
        EXIT_CODE_LINE.matcher(help.stdout().substring(help.stdout().indexOf("Exit codes:")));
    while (m.find()) {
      codes.add(Integer.parseInt(m.group(1)));
    }
    boolean daemon = List.of("run", "demo", "witness").contains(name);
    assertThat(codes)
        .as("exit codes kagami %s --help documents", name)
        .isEqualTo(daemon ? List.of(0, 1, 2) : List.of(0, 1, 2, 3, 4));

    // A usage error with --json: exit 2, as JSON (a daemon verb too: nothing starts).
    jsonError(run(k, concat(verb, "--json", "--no-such-option")), 2, "usage");
    if (!help.stdout().contains("--json")) {
      assertThat(daemon).as("kagami %s prints but has no --json", name).isTrue();
      return;
    }
    if (help.stdout().contains("--admin")) {
      // Nothing listening: exit 4, as JSON and as text, with what to do next.
      JsonNode e =
          jsonError(
              run(k, withRequired(verb, "--json", "--admin", "127.0.0.1:" + closedPort)),
              4,
              "unreachable");
      assertThat(e.path("next").asText())
          .as("kagami %s: what to do when no site answers", name)
          .contains("--admin")
          .contains("KAGAMI_ADMIN");
    }
  }

  /** Every verb path the help lists, e.g. [status], [drill, start]. */
  private static List<List<String>> verbs(ExternalTool k, List<String> parent)
      throws IOException, InterruptedException {
    List<String> args = new ArrayList<>(parent);
    args.add("--help");
    ExternalTool.Result help = k.run(T, args);
    assertThat(help.exitCode()).as(help.describe()).isZero();
    List<List<String>> out = new ArrayList<>();
    int commands = help.stdout().indexOf("Commands:");
    if (commands < 0) {
      out.add(parent);
      return out;
    }
    int exitCodes = help.stdout().indexOf("Exit codes:", commands);
    Matcher m =
        COMMAND_LINE.matcher(
            help.stdout().substring(commands, exitCodes < 0 ? help.stdout().length() : exitCodes));
    while (m.find()) {
      if (parent.isEmpty() && m.group(1).equals("help")) {
        continue;
      }
      List<String> child = new ArrayList<>(parent);
      child.add(m.group(1));
      out.addAll(verbs(k, child));
    }
    return out;
  }

  @Test
  void everyVerbHasHelpJsonAndTheDocumentedExitCodes() throws Exception {
    ExternalTool k = kagami();
    List<List<String>> verbs = verbs(k, List.of());
    assertThat(verbs)
        .as("verbs the help lists")
        .contains(
            List.of("status"),
            List.of("promote"),
            List.of("switchover"),
            List.of("failback"),
            List.of("drill", "start"),
            List.of("link", "set"),
            List.of("maintenance"),
            List.of("cert", "show"),
            List.of("run"),
            List.of("demo"),
            List.of("witness"));
    int closedPort = FreePorts.loopbackPorts(1)[0];

    try (TwoSites sites = new TwoSites(dir.resolve("sites"), 16L << 20).start()) {
      String primary = "127.0.0.1:" + sites.primaryAdmin;
      String standby = "127.0.0.1:" + sites.standbyAdmin;
      // Each verb's four invocations are independent: two verbs at a time (a CLI's run is one JVM
      // start, mostly on one core), which halves this test's minute on the CI's two cores.
      ExecutorService pool = Executors.newFixedThreadPool(2);
      try {
        List<Future<?>> checks = new ArrayList<>();
        for (List<String> verb : verbs) {
          checks.add(
              pool.submit(
                  () -> {
                    checkVerb(k, verb, closedPort);
                    return null;
                  }));
        }
        for (Future<?> c : checks) {
          try {
            c.get();
          } catch (ExecutionException e) {
            if (e.getCause() instanceof Error err) {
              throw err;
            }
            throw e;
          }
        }
      } finally {
        pool.shutdownNow();
      }

      // Success, as JSON, on the verbs that only read (and on the site each reads).
      assertThat(json(run(k, "status", "--json", "--admin", primary)).path("role").asText())
          .isEqualTo("primary");
      assertThat(json(run(k, "link", "show", "--json", "--admin", primary)).has("bandwidth"))
          .isTrue();
      assertThat(json(run(k, "drill", "status", "--json", "--admin", standby)).isArray()).isTrue();
      JsonNode cert =
          json(
              run(
                  k,
                  "cert",
                  "show",
                  "--json",
                  "--data-dir",
                  dir.resolve("cert-site").toString(),
                  "--site-id",
                  "osaka"));
      assertThat(cert.path("certificate").asText()).startsWith("-----BEGIN CERTIFICATE-----");

      // Refused (3): the site answers and refuses, with its reason as a sentence, not its JSON.
      JsonNode refused = jsonError(run(k, "promote", "--json", "--admin", primary), 3, "refused");
      assertThat(refused.path("message").asText()).contains("already the primary");
      jsonError(run(k, "switchover", "--json", "--admin", standby), 3, "refused");
      assertThat(
              jsonError(run(k, "maintenance", "show", "--json", "--admin", standby), 3, "refused")
                  .path("message")
                  .asText())
          .contains("no failover section");
      jsonError(
          run(k, "drill", "start", "--volume", "vol0", "--json", "--admin", primary), 3, "refused");
      ExternalTool.Result refusedText = run(k, "promote", "--admin", primary);
      assertThat(refusedText.exitCode()).as(refusedText.describe()).isEqualTo(3);
      assertThat(refusedText.stderr())
          .contains("already the primary")
          .contains("kagami: next:")
          .doesNotContain("{\"error\"");
      assertThat(sites.standby.status().path("role").asText())
          .as("nothing changed")
          .isEqualTo("standby");

      // Unreachable (4): the NBD port is named as not an admin port, without its greeting.
      ExternalTool.Result nbd = run(k, "status", "--admin", "127.0.0.1:" + sites.primaryNbd);
      assertThat(nbd.exitCode()).as(nbd.describe()).isEqualTo(4);
      assertThat(nbd.stderr()).contains("not as a Kagami admin port").doesNotContain("NBDMAGIC");
      jsonError(
          run(k, "status", "--json", "--admin", "127.0.0.1:" + sites.primaryNbd), 4, "unreachable");

      // Usage (2): a bad value is rejected before anything is sent.
      jsonError(
          run(k, "link", "set", "--bandwidth", "fast", "--json", "--admin", primary), 2, "usage");
      jsonError(
          run(k, "promote", "--seq", "1", "--at", "5m", "--json", "--admin", standby), 2, "usage");
      jsonError(run(k, "status", "--json", "--admin", "https://" + primary), 2, "usage");
      assertThat(sites.standby.status().path("role").asText())
          .as("nothing changed")
          .isEqualTo("standby");

      // Failed (1): the command ran and could not do it (here: a data directory that is a file).
      Path notADirectory = Files.writeString(dir.resolve("not-a-directory"), "x");
      jsonError(
          run(
              k,
              "cert",
              "show",
              "--json",
              "--data-dir",
              notADirectory.toString(),
              "--site-id",
              "osaka"),
          1,
          "failed");

      // One way to name the site: --admin (http://host:port too), else KAGAMI_ADMIN.
      assertThat(
              json(run(k, "status", "--json", "--admin", "http://" + standby + "/"))
                  .path("role")
                  .asText())
          .isEqualTo("standby");
      assertThat(
              json(run(k.withEnv("KAGAMI_ADMIN", "http://" + standby), "status", "--json"))
                  .path("role")
                  .asText())
          .isEqualTo("standby");
      assertThat(
              json(run(k.withEnv("KAGAMI_ADMIN", standby), "status", "--json", "--admin", primary))
                  .path("role")
                  .asText())
          .as("--admin wins over KAGAMI_ADMIN")
          .isEqualTo("primary");

      // A connected link shows no stale last error (the standby saw the primary's first attempts
      // fail
      // only if it started later; either way, connected means no error line).
      String table = run(k, "status", "--admin", primary).stdout();
      assertThat(table).contains("link to hiroshima: connected").doesNotContain("last error");

      // --watch is a live view: it refreshes until stopped, whether or not a resync runs.
      assertThat(watchLines(primary, 2))
          .allSatisfy(
              line -> assertThat(JSON.readTree(line).path("siteId").asText()).isEqualTo("tokyo"));
    }
  }

  /**
   * The first {@code n} lines of {@code kagami status --watch --json}, then the view is stopped (as
   * Ctrl-C would).
   */
  private List<String> watchLines(String admin, int n) throws Exception {
    ProcessBuilder pb =
        new ProcessBuilder(
                ROOT.resolve("kagami").toString(), "status", "--watch", "--json", "--admin", admin)
            .redirectError(ProcessBuilder.Redirect.DISCARD);
    pb.environment().put("KAGAMI_SKIP_BUILD", "1");
    Process p = pb.start();
    p.getOutputStream().close();
    CompletableFuture<List<String>> lines =
        CompletableFuture.supplyAsync(
            () -> {
              List<String> got = new ArrayList<>();
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while (got.size() < n && (line = r.readLine()) != null) {
                  got.add(line);
                }
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
              return got;
            });
    try {
      List<String> got = lines.get(T.toSeconds(), TimeUnit.SECONDS);
      assertThat(got).as("views printed by status --watch before it was stopped").hasSize(n);
      assertThat(p.isAlive()).as("status --watch still running after %d views", n).isTrue();
      return got;
    } finally {
      p.destroy();
      p.onExit().get(T.toSeconds(), TimeUnit.SECONDS);
    }
  }

  /** {@code verb} with the options it requires filled in, then {@code extra}. */
  private static String[] withRequired(List<String> verb, String... extra) {
    List<String> args = new ArrayList<>(verb);
    switch (String.join(" ", verb)) {
      case "drill start", "drill stop", "verify" -> args.addAll(List.of("--volume", "vol0"));
      case "link set" -> args.addAll(List.of("--bandwidth", "1MB"));
      case "maintenance" -> args.add("show");
      default -> {}
    }
    args.addAll(List.of(extra));
    return args.toArray(String[]::new);
  }

  private static String[] concat(List<String> head, String... tail) {
    List<String> all = new ArrayList<>(head);
    all.addAll(List.of(tail));
    return all.toArray(String[]::new);
  }
}
