package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.site.admin.AdminServer;
import io.kagami.site.config.Bandwidth;
import io.kagami.site.config.HostPort;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kagami status [--json] [--admin HOST:PORT]}: a site's replication state. */
@Command(name = "status", description = "Show a site's volumes, roles, sequence numbers, lag, unsent history and link bandwidth.")
final class StatusCommand implements Callable<Integer> {
  @Option(names = "--admin", defaultValue = "127.0.0.1:9480", description = "the site's admin address (default ${DEFAULT-VALUE})")
  String admin;

  @Option(names = "--json", description = "print the raw JSON of GET /status")
  boolean json;

  @Override
  public Integer call() throws IOException, InterruptedException {
    HostPort hp = HostPort.parse(admin);
    HttpResponse<String> r = AdminClient.send(hp, HttpRequest.newBuilder(URI.create("http://" + hp + "/status")).GET());
    if (r == null) {
      return 2;
    }
    if (json) {
      System.out.println(r.body());
      return 0;
    }
    JsonNode s = AdminServer.JSON.readTree(r.body());
    JsonNode link = s.path("link");
    System.out.printf("site %s  role %s  nbd %s%n", s.path("siteId").asText(), s.path("role").asText(), s.path("nbd").asText());
    System.out.printf(
        "link to %s: %s%s%n",
        link.path("peerSiteId").asText("?"),
        link.path("connected").asBoolean() ? "connected" : "DISCONNECTED",
        link.hasNonNull("lastError") ? "  (last error: " + link.path("lastError").asText() + ")" : "");
    if (link.has("bandwidthBytesPerSecond")) {
      System.out.printf(
          "bandwidth cap %s (%s)  sending %s%n",
          Bandwidth.format(link.path("bandwidthBytesPerSecond").asLong()),
          link.path("bandwidthSource").asText("?"),
          Bandwidth.format(Math.round(link.path("sendRateBytesPerSecond").asDouble())).replace("unlimited", "0 B/s"));
    }
    System.out.printf("%-12s %-8s %10s %14s %14s %12s %9s %12s %10s %10s%n", "VOLUME", "ROLE", "SIZE", "JOURNALED", "ACKED/APPLIED", "LAG", "LAG(s)", "HISTORY", "OLDEST(s)", "DRAIN(s)");
    for (JsonNode v : s.path("volumes")) {
      long other = v.has("lastAckedByPeerSeq") ? v.path("lastAckedByPeerSeq").asLong() : v.path("lastAppliedSeq").asLong();
      System.out.printf(
          "%-12s %-8s %10s %14d %14d %12s %9.1f %12s %10s %10s%n",
          v.path("name").asText(),
          v.path("role").asText(),
          human(v.path("sizeBytes").asLong()),
          v.path("lastJournaledSeq").asLong(),
          other,
          human(v.path("lagBytes").asLong()),
          v.path("lagSeconds").asDouble(),
          v.hasNonNull("historyBytes") ? human(v.path("historyBytes").asLong()) : "-",
          v.hasNonNull("oldestUnsentAgeSeconds") ? String.format("%.1f", v.path("oldestUnsentAgeSeconds").asDouble()) : "-",
          v.hasNonNull("drainEtaSeconds") ? String.format("%.1f", v.path("drainEtaSeconds").asDouble()) : "-");
      if (v.hasNonNull("error")) {
        System.out.println("  error: " + v.path("error").asText());
      }
    }
    return 0;
  }

  static String human(long bytes) {
    String[] units = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = bytes;
    int u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return u == 0 ? bytes + " B" : String.format("%.1f %s", v, units[u]);
  }
}
