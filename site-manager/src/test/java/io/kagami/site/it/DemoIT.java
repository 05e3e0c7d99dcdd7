package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kagami.clock.SystemTime;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's first command, as a new user runs it: a fresh clone, {@code ./kagami demo} (which
 * builds the project on first run), data written into the primary, read from the standby, then
 * SIGTERM for a clean stop.
 */
class DemoIT {
  @TempDir Path tmp;

  @Test
  void demoFromAFreshCloneBuildsItselfReplicatesAndStopsCleanly() throws Exception {
    Path root = Path.of("").toAbsolutePath().getParent();
    assertThat(root.resolve(".git"))
        .as("the project root is a git checkout (tests clone it)")
        .exists();
    Path clone = tmp.resolve("clone");
    ExternalTool.require("git")
        .run(
            Duration.ofMinutes(2),
            "clone",
            "--quiet",
            "--no-hardlinks",
            root.toString(),
            clone.toString())
        .requireSuccess();
    int[] ports = FreePorts.loopbackPorts(6);
    String pNbd = "127.0.0.1:" + ports[0];
    String sNbd = "127.0.0.1:" + ports[1];
    String pAdmin = "127.0.0.1:" + ports[2];
    String sAdmin = "127.0.0.1:" + ports[3];
    Path data = tmp.resolve("demo-data");
    ProcessBuilder pb =
        new ProcessBuilder(
                "./kagami",
                "demo",
                "--volume-size",
                "64MiB",
                "--primary-nbd",
                pNbd,
                "--standby-nbd",
                sNbd,
                "--primary-admin",
                pAdmin,
                "--standby-admin",
                sAdmin,
                "--wan",
                "127.0.0.1:" + ports[4],
                "--primary-wan",
                "127.0.0.1:" + ports[5],
                "--data-dir",
                data.toString())
            .directory(clone.toFile())
            .redirectErrorStream(true);
    pb.environment().remove("KAGAMI_SKIP_BUILD");
    Process demo = pb.start();
    StringBuilder out = new StringBuilder();
    CompletableFuture<Void> ready = new CompletableFuture<>();
    CompletableFuture<Void> stopped = new CompletableFuture<>();
    Thread.ofPlatform()
        .daemon(true)
        .start(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(demo.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                  synchronized (out) {
                    out.append(line).append('\n');
                  }
                  if (line.contains("ready")) {
                    ready.complete(null);
                  }
                  if (line.contains("kagami: stopped")) {
                    stopped.complete(null);
                  }
                }
              } catch (java.io.IOException e) {
                ready.completeExceptionally(e);
              }
              ready.completeExceptionally(new AssertionError("demo exited before ready"));
            });
    try {
      try {
        ready.get(8, TimeUnit.MINUTES);
      } catch (Exception e) {
        synchronized (out) {
          throw new AssertionError("./kagami demo did not print ready:\n" + out, e);
        }
      }
      assertThat(out.toString())
          .contains("nbd://" + pNbd + "/vol0")
          .contains("nbd://" + sNbd + "/vol0")
          .contains("http://" + pAdmin + "/status")
          .contains("http://" + pAdmin + "/metrics")
          .contains("http://" + sAdmin + "/metrics");
      ExternalTool.require("qemu-io")
          .run(
              Duration.ofMinutes(1),
              "-f",
              "raw",
              "-c",
              "write -P 0x5a 0 1M",
              "nbd://" + pNbd + "/vol0")
          .requireSuccess();

      ObjectMapper json = new ObjectMapper();
      JsonNode p = null;
      long deadline = SystemTime.NANO.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (SystemTime.NANO.nanoTime() < deadline) {
        ExternalTool.Result r =
            ExternalTool.of(clone.resolve("kagami"))
                .run(Duration.ofMinutes(1), "status", "--json", "--admin", pAdmin)
                .requireSuccess();
        p = json.readTree(r.stdout()).path("volumes").get(0);
        if (p.path("lastJournaledSeq").asLong() > 0
            && p.path("lagBytes").asLong() == 0
            && p.path("lastAckedByPeerSeq").asLong() == p.path("lastJournaledSeq").asLong()) {
          break;
        }
      }
      assertThat(p.path("name").asText()).isEqualTo("vol0");
      assertThat(p.path("role").asText()).isEqualTo("primary");
      assertThat(p.path("sizeBytes").asLong()).isEqualTo(64L << 20);
      assertThat(p.path("lagBytes").asLong()).isZero();
      assertThat(p.has("lagSeconds")).isTrue();
      JsonNode s = null;
      deadline = SystemTime.NANO.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (SystemTime.NANO.nanoTime() < deadline) {
        s =
            json.readTree(
                    ExternalTool.of(clone.resolve("kagami"))
                        .run(Duration.ofMinutes(1), "status", "--json", "--admin", sAdmin)
                        .requireSuccess()
                        .stdout())
                .path("volumes")
                .get(0);
        if (s.path("lastAppliedSeq").asLong() >= p.path("lastJournaledSeq").asLong()) {
          break;
        }
      }
      assertThat(s.path("role").asText()).isEqualTo("standby");
      assertThat(s.path("lastAppliedSeq").asLong())
          .isGreaterThanOrEqualTo(p.path("lastJournaledSeq").asLong());
      // Verification points (on by default) follow the write on both sites; the newest write the
      // replica holds is the primary's.
      assertThat(s.path("lastWriteSeq").asLong())
          .as("standby's newest applied write")
          .isEqualTo(p.path("lastWriteSeq").asLong())
          .isPositive();
      ExternalTool.require("qemu-io")
          .run(
              Duration.ofMinutes(1),
              "-f",
              "raw",
              "-r",
              "-c",
              "read -P 0x5a 0 1M",
              "nbd://" + sNbd + "/vol0")
          .requireSuccess();
      String table =
          ExternalTool.of(clone.resolve("kagami"))
              .run(Duration.ofMinutes(1), "status", "--admin", pAdmin)
              .requireSuccess()
              .stdout();
      assertThat(table).contains("VOLUME").contains("vol0").contains("connected").contains("STATE");
      assertThat(Files.readString(data.resolve("tokyo.yaml"))).contains("role: primary");

      // The demo's sites switch over like separately run ones: hiroshima takes writes, tokyo
      // replicates them.
      String sw =
          ExternalTool.of(clone.resolve("kagami"))
              .run(Duration.ofMinutes(2), "switchover", "--admin", pAdmin)
              .requireSuccess()
              .stdout();
      assertThat(sw).contains("hiroshima is the primary, tokyo its standby");
      ExternalTool.require("qemu-io")
          .run(
              Duration.ofMinutes(1),
              "-f",
              "raw",
              "-c",
              "write -P 0x6b 1M 1M",
              "nbd://" + sNbd + "/vol0")
          .requireSuccess();
      deadline = SystemTime.NANO.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      JsonNode t = null;
      while (SystemTime.NANO.nanoTime() < deadline) {
        t =
            json.readTree(
                    ExternalTool.of(clone.resolve("kagami"))
                        .run(Duration.ofMinutes(1), "status", "--json", "--admin", sAdmin)
                        .requireSuccess()
                        .stdout())
                .path("volumes")
                .get(0);
        if (t.path("role").asText().equals("primary")
            && t.path("lagBytes").asLong() == 0
            && t.path("lastAckedByPeerSeq").asLong() == t.path("lastJournaledSeq").asLong()) {
          break;
        }
      }
      assertThat(t.path("lagBytes").asLong()).as("hiroshima's writes reach tokyo").isZero();
      long target = t.path("lastJournaledSeq").asLong();
      deadline = SystemTime.NANO.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (SystemTime.NANO.nanoTime() < deadline) {
        t =
            json.readTree(
                    ExternalTool.of(clone.resolve("kagami"))
                        .run(Duration.ofMinutes(1), "status", "--json", "--admin", pAdmin)
                        .requireSuccess()
                        .stdout())
                .path("volumes")
                .get(0);
        if (t.path("lastAppliedSeq").asLong() >= target) {
          break;
        }
      }
      assertThat(t.path("role").asText()).isEqualTo("standby");
      assertThat(t.path("lastAppliedSeq").asLong())
          .as("tokyo applied hiroshima's writes")
          .isGreaterThanOrEqualTo(target);
      ExternalTool.require("qemu-io")
          .run(
              Duration.ofMinutes(1),
              "-f",
              "raw",
              "-r",
              "-c",
              "read -P 0x6b 1M 1M",
              "nbd://" + pNbd + "/vol0")
          .requireSuccess();

      demo.toHandle().destroy(); // SIGTERM (Process.destroy would also close our end of its output)
      assertThat(demo.waitFor(60, TimeUnit.SECONDS))
          .as("demo stops within 60 s of SIGTERM")
          .isTrue();
      try {
        stopped.get(10, TimeUnit.SECONDS);
      } catch (java.util.concurrent.TimeoutException e) {
        synchronized (out) {
          throw new AssertionError("no clean-stop message after SIGTERM; output:\n" + out, e);
        }
      }
      assertThat(demo.exitValue()).as("exit code after SIGTERM; output:\n" + out).isIn(0, 143);
    } finally {
      demo.destroyForcibly();
    }
  }
}
