package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kagami.testkit.tools.ExternalTool;
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
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance b): {@code kagami recover plan}, through the real launcher against a real standby
 * (paired with a real primary), refuses each of four faults in recovery.yaml with exit 3, naming
 * the server and the key: memory beyond the DR host, an unknown disk bus, a dependency cycle, a
 * missing volume; and nothing changed: the standby's state and both sites' data directories (every
 * file's name and size) are the same before and after. The plan is read afresh on every call (the
 * file is edited between calls, the site is not restarted), and a sound file plans.
 */
class RecoverPlanIT {
  private static final Duration T = Duration.ofSeconds(60);
  private static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  private static final ObjectMapper JSON = new ObjectMapper();

  private static final String GOOD =
      """
      networks:
        prod: {bridge: br-prod}
        drill: {bridge: br-drill}
      defaults:
        vcpus: 1
        memory: 256MiB
        healthCheck: {console: "login:"}
      servers:
        - name: db
          volumes: [db-data, db-log]
          priority: 1
          nics: [{network: prod, drillNetwork: drill}]
          healthCheck: {tcp: "10.0.0.5:5432"}
        - name: web
          volumes: [web-root]
          diskBus: sata
          dependsOn: [db]
      """;

  @TempDir Path dir;

  private static ExternalTool kagami() {
    return ExternalTool.of(ROOT.resolve("kagami"))
        .withEnv("KAGAMI_SKIP_BUILD", "1")
        .withEnv("KAGAMI_ADMIN", "");
  }

  /** One fault: what to change in the sound file, and the server and key it must name. */
  private record Fault(
      String what, String from, String to, String server, String key, String says) {}

  @Test
  void eachFaultIsRefusedNamingServerAndKeyAndNothingChanges() throws Exception {
    Path sitesDir = dir.resolve("sites");
    TwoSites pair = new TwoSites(sitesDir, 16L << 20, "db-data", "db-log", "web-root");
    // Continuous verification writes both journals by itself; off, so any byte the plan wrote
    // shows.
    Files.writeString(
        sitesDir.resolve("tokyo.yaml"),
        "verify: {rate: off}\n",
        java.nio.file.StandardOpenOption.APPEND);
    try (TwoSites sites = pair.start()) {
      String standby = "127.0.0.1:" + sites.standbyAdmin;
      // recovery.yaml beside the standby's hiroshima.yaml: the default place.
      Path recovery = sitesDir.resolve("recovery.yaml");
      ExternalTool k = kagami();

      Files.writeString(recovery, GOOD);
      ExternalTool.Result good = k.run(T, "recover", "plan", "--json", "--admin", standby);
      assertThat(good.exitCode()).as(good.describe()).isZero();
      JsonNode plan = JSON.readTree(good.stdout());
      assertThat(plan.path("ok").asBoolean()).as(good.describe()).isTrue();
      assertThat(plan.path("bootOrder").toString())
          .isEqualTo(
              "[{\"priority\":1,\"waves\":[[\"db\"]]},{\"priority\":3,\"waves\":[[\"web\"]]}]");
      assertThat(plan.path("host").path("cpus").asInt())
          .as("CPUs from the OS")
          .isEqualTo(Runtime.getRuntime().availableProcessors());
      ExternalTool.Result goodText = k.run(T, "recover", "plan", "--admin", standby);
      assertThat(goodText.exitCode()).as(goodText.describe()).isZero();
      assertThat(goodText.stdout())
          .contains("ready (nothing was changed)")
          .contains("group 1: db")
          .contains("group 3: web");

      List<Fault> faults =
          List.of(
              new Fault(
                  "memory beyond the host",
                  "    priority: 1\n",
                  "    priority: 1\n    memory: 16TiB\n",
                  "db",
                  "memory",
                  "server \"db\": memory 16384GiB exceeds the DR host's "),
              new Fault(
                  "an unknown bus",
                  "diskBus: sata",
                  "diskBus: scsi",
                  "web",
                  "diskBus",
                  "server \"web\": diskBus \"scsi\" is not allowed"),
              new Fault(
                  "a dependency cycle",
                  "    priority: 1\n",
                  "    dependsOn: [web]\n",
                  "db",
                  "dependsOn",
                  "server \"db\": dependsOn forms a cycle: db → web → db"),
              new Fault(
                  "a missing volume",
                  "[db-data, db-log]",
                  "[db-data, db-logs]",
                  "db",
                  "volumes[1]",
                  "server \"db\": volumes[1] \"db-logs\" is not a volume of this site"));
      for (Fault f : faults) {
        String yaml = GOOD.replace(f.from(), f.to());
        assertThat(yaml).as("fault %s applied", f.what()).isNotEqualTo(GOOD);
        Files.writeString(recovery, yaml);
        String stateBefore = state(sites.standby.status());
        List<String> filesBefore = listing(sitesDir);

        ExternalTool.Result r = k.run(T, "recover", "plan", "--json", "--admin", standby);
        assertThat(r.exitCode()).as("%s: %s", f.what(), r.describe()).isEqualTo(3);
        JsonNode answer = JSON.readTree(r.stdout());
        assertThat(answer.path("error").path("kind").asText()).isEqualTo("refused");
        assertThat(answer.path("error").path("message").asText()).as(f.what()).contains(f.says());
        assertThat(answer.path("error").path("next").asText()).contains("nothing was changed");
        JsonNode problems = answer.path("plan").path("problems");
        assertThat(problems.size()).as("%s: problems %s", f.what(), problems).isEqualTo(1);
        assertThat(problems.get(0).path("server").asText()).as(f.what()).isEqualTo(f.server());
        assertThat(problems.get(0).path("key").asText()).as(f.what()).isEqualTo(f.key());

        ExternalTool.Result text = k.run(T, "recover", "plan", "--admin", standby);
        assertThat(text.exitCode()).as(text.describe()).isEqualTo(3);
        assertThat(text.stderr()).as(f.what()).contains("kagami: ").contains(f.says());

        JsonNode rest = getPlan(standby);
        assertThat(rest.path("ok").asBoolean()).as("GET /recover/plan: %s", f.what()).isFalse();
        assertThat(rest.path("problems").get(0).path("key").asText()).isEqualTo(f.key());

        assertThat(state(sites.standby.status()))
            .as("standby state after %s", f.what())
            .isEqualTo(stateBefore);
        assertThat(listing(sitesDir))
            .as("data directories after %s", f.what())
            .isEqualTo(filesBefore);
      }
      assertThat(sites.standby.alive()).isTrue();
      assertThat(sites.primary.alive()).isTrue();
    }
  }

  /** What a plan could have changed on the standby: role, writes, each volume's state and seq. */
  private static String state(JsonNode status) {
    StringBuilder b = new StringBuilder();
    b.append(status.path("role").asText())
        .append(" acceptingWrites=")
        .append(status.path("acceptingWrites").asBoolean());
    for (JsonNode v : status.path("volumes")) {
      b.append(" ")
          .append(v.path("name").asText())
          .append(":")
          .append(v.path("state").asText())
          .append("@")
          // The newest host write: verification points advance the journal on an idle volume.
          .append(v.path("lastWriteSeq").asText())
          .append(v.hasNonNull("drill") ? " drill" : "");
    }
    return b.toString();
  }

  /**
   * Every file under {@code root} but the sites' logs and recovery.yaml (the test's own), with its
   * size.
   */
  private static List<String> listing(Path root) throws IOException {
    List<String> out = new ArrayList<>();
    try (Stream<Path> files = Files.walk(root)) {
      for (Path p : files.sorted().toList()) {
        String name = root.relativize(p).toString();
        if (name.endsWith(".yaml.log") || name.equals("recovery.yaml")) {
          continue;
        }
        out.add(name + (Files.isRegularFile(p) ? " " + Files.size(p) : "/"));
      }
    }
    return out;
  }

  private static JsonNode getPlan(String admin) throws IOException, InterruptedException {
    try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create("http://" + admin + "/recover/plan"))
                  .timeout(Duration.ofSeconds(10))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as("GET /recover/plan: %s", r.body()).isEqualTo(200);
      return JSON.readTree(r.body());
    }
  }
}
