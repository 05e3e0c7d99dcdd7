package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.clock.SystemTime;
import io.kagami.testkit.nbd.NbdTestClient;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Unplanned failover with the CLI an operator uses: the primary dies (kill -9), {@code kagami
 * promote} turns the standby into the primary, hosts write to it at its NBD address, and the role
 * survives a restart. In sync mode nothing acknowledged before the failure is missing.
 */
class PromoteIT {
  private static final long VOLUME = 64L << 20;
  private static final Duration T = Duration.ofMinutes(2);
  @TempDir Path dir;

  @Test
  void theStandbyIsPromotedWithEveryAcknowledgedWriteAndKeepsTheRole() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("PromoteIT seed=" + seed);
    try (TwoSites sites =
        TwoSites.withVolumeOptions(dir, VOLUME, "mode: sync, onSyncTimeout: block").start()) {
      CrashIT.Writer w =
          CrashIT.killPrimaryUnderLoad(sites, seed, 1500 + new Random(seed).nextInt(1500));
      String standbyAdmin = "127.0.0.1:" + sites.standbyAdmin;

      // Changing a site takes its admin token: an anonymous request and a CLI that finds no token
      // are
      // refused and nothing changes; the operator's CLI on this machine finds the published token.
      try (java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient()) {
        var anonymous =
            http.send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://" + standbyAdmin + "/promote"))
                    .POST(java.net.http.HttpRequest.BodyPublishers.noBody())
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertThat(anonymous.statusCode()).as(anonymous.body()).isEqualTo(401);
      }
      Cli tokenless =
          cli(
              java.util.Map.of("KAGAMI_RUNTIME_DIR", dir.resolve("elsewhere").toString()),
              "promote",
              "--admin",
              standbyAdmin);
      assertThat(tokenless.exit()).isNotZero();
      assertThat(tokenless.output()).contains("HTTP 401").contains("no admin token found");
      assertThat(sites.standby.status().path("role").asText()).isEqualTo("standby");
      assertThat(sites.standby.log())
          .contains("POST /promote from")
          .contains("refused: no admin token");

      long start = SystemTime.NANO.nanoTime();
      Cli promoted = cli("promote", "--admin", standbyAdmin);
      assertThat(promoted.exit()).as(promoted.output()).isZero();
      assertThat(promoted.output()).contains("is now the primary");
      // The old standby's NBD address now takes writes.
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
        c.write(0, CrashIT.Writer.content(0, 1_000_000)).get(30, TimeUnit.SECONDS);
        System.out.printf(
            "PromoteIT: promote command to first write acknowledged by the new primary: %d ms%n",
            (SystemTime.NANO.nanoTime() - start) / 1_000_000);
        int[] versions = w.versions(c, "promoted standby");
        for (int block = 1; block < versions.length; block++) {
          assertThat(versions[block])
              .as("block %d: acknowledged version %d lost in the failover", block, w.acked[block])
              .isGreaterThanOrEqualTo(w.acked[block]);
        }
      }
      JsonNode s = sites.standby.status();
      assertThat(s.path("role").asText()).isEqualTo("primary");
      assertThat(TwoSites.vol0(s).path("role").asText()).isEqualTo("primary");
      assertThat(sites.standby.metrics())
          .contains(
              "kagami_role{peer=\"tokyo\",role=\"primary\",site=\"hiroshima\",volume=\"vol0\"} 1.0")
          .contains(
              "kagami_role{peer=\"tokyo\",role=\"standby\",site=\"hiroshima\",volume=\"vol0\"} 0.0");
      Cli again = cli("promote", "--admin", standbyAdmin);
      assertThat(again.exit()).isNotZero();
      assertThat(again.output()).contains("already the primary");

      // A restart keeps the role (its configuration still says standby) and the data.
      sites.standby.stop();
      sites.standby.start();
      assertThat(sites.standby.status().path("role").asText()).isEqualTo("primary");
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
        assertThat(c.read(0, 4096).get(30, TimeUnit.SECONDS))
            .isEqualTo(CrashIT.Writer.content(0, 1_000_000));
        c.write(4096, CrashIT.Writer.content(1, 1_000_000)).get(30, TimeUnit.SECONDS);
      }
      assertThat(sites.standby.log())
          .contains("PROMOTED to primary")
          .contains("new data generation");
    }
  }

  record Cli(int exit, String output) {}

  /** Runs {@code kagami ARGS} as an operator would, in its own JVM. */
  static Cli cli(String... args) throws IOException, InterruptedException {
    return cli(java.util.Map.of(), args);
  }

  /** {@link #cli(String...)} with {@code env} added to the environment. */
  static Cli cli(java.util.Map<String, String> env, String... args)
      throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("io.kagami.site.cli.Main");
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.environment().putAll(env);
    Process p = pb.start();
    String out =
        new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("kagami " + String.join(" ", args) + " did not finish within 60 s");
    }
    return new Cli(p.exitValue(), out);
  }
}
