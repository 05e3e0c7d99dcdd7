package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.kagami.testkit.tools.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The monitoring kit in docs/monitoring against real tools: promtool checks and unit-tests the
 * alert rules; a real Prometheus scrapes a real two-site pair, sees replication lag rise while the
 * standby is stopped and fall to 0 once it is back, and evaluates the real rules file so that the
 * link-down alert becomes active, its runbook_url under the base Prometheus configures; every
 * metric the Grafana dashboard queries exists in a live scrape, and the README's metrics table
 * matches a live scrape both ways; the README lists every alert rule.
 */
class PrometheusIT {
  private static final long MiB = 1 << 20;
  private static final Duration T = Duration.ofSeconds(30);
  private static final Path MONITORING =
      Path.of("").toAbsolutePath().getParent().resolve("docs/monitoring");
  private static final Path RULES = MONITORING.resolve("kagami-alerts.yml");
  private static final String README = readme();
  private static final Pattern RUNBOOK_URL =
      Pattern.compile(
          "\\Q{{ with $externalLabels.kagami_runbook_base }}{{ . }}{{ else }}\\E(https?://[^{}\\s]+)\\Q{{ end }}/\\E([a-z-]+\\.md)");
  private static final String RUNBOOK_BASE = "https://runbooks.test/kagami/alerts";
  private static final Pattern METRIC =
      Pattern.compile("\\b((?:kagami|jvm|process|system)_[a-z0-9_]+)");
  @TempDir Path dir;

  @Test
  void promtoolAcceptsTheRulesTheirUnitTestsPassAndEveryRunbookExists() throws Exception {
    ExternalTool promtool = ExternalTool.require("promtool").inDirectory(MONITORING);
    ExternalTool.Result check = promtool.run(T, "check", "rules", RULES.toString());
    assertThat(check.exitCode()).as("promtool check rules:\n" + check.output()).isZero();
    ExternalTool.Result test = promtool.run(T, "test", "rules", "kagami-alerts.test.yml");
    assertThat(test.exitCode()).as("promtool test rules:\n" + test.output()).isZero();
    ExternalTool.Result config = promtool.run(T, "check", "config", "prometheus.example.yml");
    assertThat(config.exitCode()).as("promtool check config:\n" + config.output()).isZero();

    JsonNode rules = new ObjectMapper(new YAMLFactory()).readTree(RULES.toFile());
    List<String> alerts = new ArrayList<>();
    Path repo = MONITORING.getParent().getParent();
    for (JsonNode group : rules.path("groups")) {
      for (JsonNode rule : group.path("rules")) {
        String name = rule.path("alert").asText();
        alerts.add(name);
        String runbook = rule.path("annotations").path("runbook_url").asText();
        // An absolute URL in Alertmanager: the configured base (external label
        // kagami_runbook_base),
        // else an absolute fallback, then the page, which exists under docs/runbooks/alerts.
        Matcher url = RUNBOOK_URL.matcher(runbook);
        assertThat(url.matches())
            .as(
                name
                    + "'s runbook_url "
                    + runbook
                    + " is the configurable base, else an absolute URL, then /PAGE.md")
            .isTrue();
        assertThat(url.group(1)).as(name + "'s fallback base").startsWith("https://");
        assertThat(repo.resolve("docs/runbooks/alerts").resolve(url.group(2)))
            .as(name + "'s runbook page")
            .isRegularFile();
      }
    }
    assertThat(alerts)
        .contains(
            "KagamiSiteDown",
            "KagamiLinkDown",
            "KagamiReplicationLagHigh",
            "KagamiHistoryNearCapacity",
            "KagamiVolumeDegraded",
            "KagamiVolumeBitmap",
            "KagamiVolumeInconsistent");
    // The README names every alert of the file, and no other.
    String kit = README.substring(README.indexOf("- `kagami-alerts.yml`:"));
    kit = kit.substring(0, kit.indexOf("\n- `", 1));
    Set<String> documented = new TreeSet<>();
    Matcher alert = Pattern.compile("`(Kagami[A-Za-z]+)`").matcher(kit);
    while (alert.find()) {
      documented.add(alert.group(1));
    }
    assertThat(documented)
        .as("alerts the README's monitoring kit lists")
        .isEqualTo(new TreeSet<>(alerts));
  }

  /** The README's metrics table: name (without labels) to type. */
  static java.util.Map<String, String> readmeMetrics() {
    java.util.Map<String, String> table = new java.util.TreeMap<>();
    Matcher row =
        Pattern.compile(
                "^\\| `(kagami_[a-z0-9_]+)(?:\\{[^}]*\\})?` \\| (gauge|counter|histogram) \\|",
                Pattern.MULTILINE)
            .matcher(README);
    while (row.find()) {
      table.put(row.group(1), row.group(2));
    }
    return table;
  }

  /**
   * The README's metrics table against live scrapes, both ways: every documented metric is exposed
   * (a histogram as its _bucket, _count, _sum and _max series) and every kagami_ metric exposed is
   * documented.
   */
  static void assertReadmeMatches(Set<String> scraped) {
    java.util.Map<String, String> table = readmeMetrics();
    assertThat(table)
        .as("metrics in the README's table")
        .containsKey("kagami_replication_lag_bytes")
        .hasSizeGreaterThan(10);
    Set<String> exposedAsDocumented = new TreeSet<>();
    for (String name : scraped) {
      if (!name.startsWith("kagami_")) {
        continue;
      }
      String base = name.replaceAll("_(bucket|count|sum|max)$", "");
      exposedAsDocumented.add(
          table.containsKey(name) ? name : "histogram".equals(table.get(base)) ? base : name);
    }
    assertThat(exposedAsDocumented)
        .as(
            "kagami_ metrics in a live scrape of a primary and a standby (histograms by their name) vs the README's metrics table")
        .isEqualTo(table.keySet());
    for (java.util.Map.Entry<String, String> e : table.entrySet()) {
      if (e.getValue().equals("histogram")) {
        assertThat(scraped)
            .as("series of the histogram " + e.getKey())
            .contains(e.getKey() + "_bucket", e.getKey() + "_count", e.getKey() + "_sum");
      }
    }
  }

  @Test
  void prometheusSeesLagRiseAndFallAndTheLinkDownAlertAndKnowsEveryDashboardMetric()
      throws Exception {
    try (TwoSites sites = new TwoSites(dir.resolve("sites"), 64 * MiB).start()) {
      // The dashboard queries only metrics that a live pair exposes (primary and standby together).
      Set<String> scraped = new TreeSet<>();
      scraped.addAll(metricNames(sites.primary.metrics()));
      scraped.addAll(metricNames(sites.standby.metrics()));
      assertReadmeMatches(scraped);
      JsonNode dashboard =
          new ObjectMapper().readTree(MONITORING.resolve("kagami-dashboard.json").toFile());
      List<String> exprs = new ArrayList<>();
      for (JsonNode panel : dashboard.path("panels")) {
        for (JsonNode target : panel.path("targets")) {
          exprs.add(target.path("expr").asText());
        }
      }
      for (JsonNode var : dashboard.path("templating").path("list")) {
        if (var.has("definition")) {
          exprs.add(var.path("definition").asText());
        }
      }
      assertThat(exprs).as("dashboard queries").hasSizeGreaterThan(10);
      Set<String> queried = new TreeSet<>();
      for (String e : exprs) {
        Matcher m = METRIC.matcher(e);
        while (m.find()) {
          queried.add(m.group(1));
        }
      }
      assertThat(queried)
          .as("metrics the dashboard queries")
          .contains(
              "kagami_replication_lag_bytes",
              "kagami_journal_append_seconds_bucket",
              "kagami_volume_state");
      assertThat(scraped).as("metric names in a live scrape of both sites").containsAll(queried);

      String primaryTarget = "127.0.0.1:" + sites.primaryAdmin;
      String standbyTarget = "127.0.0.1:" + sites.standbyAdmin;
      try (PrometheusServer prometheus =
          new PrometheusServer(
                  dir.resolve("prometheus"),
                  List.of(primaryTarget, standbyTarget),
                  List.of(RULES),
                  java.util.Map.of("kagami_runbook_base", RUNBOOK_BASE))
              .start()) {
        prometheus.awaitQuery(
            "up{job=\"kagami\"} == 1", r -> r.size() == 2, T, "both sites scraped");
        prometheus.awaitQuery(
            "kagami_replication_lag_bytes{site=\"tokyo\",volume=\"vol0\"} == 0",
            r -> r.size() == 1,
            T,
            "primary lag 0 before writing");
        prometheus.awaitQuery(
            "kagami_volume_state{site=\"tokyo\",state=\"replicating\"} == 1",
            r -> r.size() == 1,
            T,
            "primary replicating");

        // Every dashboard query is valid PromQL for this Prometheus.
        for (String e : exprs) {
          String q =
              e.replace("$site", ".*")
                  .replace("$peer", ".*")
                  .replace("$volume", ".*")
                  .replace("$__rate_interval", "5s");
          if (!q.startsWith("label_values")) {
            prometheus.query(q);
          }
        }

        // Link down: the standby stops, the primary reports the link down, and the real rule's
        // expression holds (the alert is pending, for: 1m, or firing).
        sites.standby.stop();
        prometheus.await(
            "KagamiLinkDown active for tokyo -> hiroshima",
            T,
            () -> {
              for (JsonNode a : prometheus.alerts()) {
                if (a.path("labels").path("alertname").asText().equals("KagamiLinkDown")
                    && a.path("labels").path("site").asText().equals("tokyo")) {
                  assertThat(a.path("annotations").path("runbook_url").asText())
                      .as("KagamiLinkDown's runbook_url under the configured base")
                      .isEqualTo(RUNBOOK_BASE + "/link-down.md");
                  return a.path("state").asText().matches("pending|firing");
                }
              }
              return false;
            });
        prometheus.awaitQuery(
            "up{job=\"kagami\",instance=\"" + standbyTarget + "\"} == 0",
            r -> r.size() == 1,
            T,
            "the stopped standby's scrape failing (site-down expression)");

        // Writes while the standby is away build lag on the primary...
        ExternalTool.require("qemu-io")
            .run(T, "-f", "raw", "-c", "write -P 0x3c 0 4M", sites.primaryUri())
            .requireSuccess();
        JsonNode lag =
            prometheus.awaitQuery(
                "kagami_replication_lag_bytes{site=\"tokyo\",volume=\"vol0\"} > 0",
                r -> r.size() == 1,
                T,
                "primary lag above 0 while the standby is stopped");
        // Nothing drains while the standby is away: Prometheus holds the figure /status shows
        // (journal
        // bytes, LZ4-compressed, so less than the 4 MiB of a repeated pattern).
        assertThat(Double.parseDouble(lag.get(0).path("value").get(1).asText()))
            .as("lag bytes in Prometheus vs the primary's /status")
            .isEqualTo((double) TwoSites.vol0(sites.primary.status()).path("lagBytes").asLong());
        prometheus.awaitQuery(
            "kagami_volume_state{site=\"tokyo\",volume=\"vol0\",state=\"buffering\"} == 1",
            r -> r.size() == 1,
            T,
            "primary buffering");

        // ... which drains to 0 once the standby is back.
        sites.standby.start();
        prometheus.awaitQuery(
            "kagami_wan_connected{site=\"tokyo\"} == 1", r -> r.size() == 1, T, "link up again");
        prometheus.awaitQuery(
            "kagami_replication_lag_bytes{site=\"tokyo\",volume=\"vol0\"} == 0",
            r -> r.size() == 1,
            T,
            "primary lag back to 0");
        prometheus.awaitQuery(
            "kagami_replication_lag_bytes{site=\"hiroshima\",volume=\"vol0\"} == 0",
            r -> r.size() == 1,
            T,
            "standby applied everything");
        prometheus.awaitQuery(
            "max_over_time(kagami_journal_append_seconds_count{site=\"tokyo\"}[1m]) > 0",
            r -> r.size() == 1,
            T,
            "journal appends timed");
      }
      assertThat(sites.primary.log())
          .contains("event=state-change kind=link site=tokyo peer=hiroshima from=up to=down");
    }
  }

  private static String readme() {
    try {
      return Files.readString(MONITORING.getParent().getParent().resolve("README.md"));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static Set<String> metricNames(String exposition) {
    Set<String> names = new TreeSet<>();
    for (String line : exposition.split("\n")) {
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int end = line.indexOf('{');
      names.add(line.substring(0, end >= 0 ? end : line.indexOf(' ')));
    }
    return names;
  }
}
