package io.kagami.site.cli;

import io.kagami.clock.SystemTime;
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

  @Option(names = "--watch", description = "refresh every second while a resync is due, showing its progress bar")
  boolean watch;

  @Override
  public Integer call() throws IOException, InterruptedException {
    if (!watch) {
      return once();
    }
    while (true) {
      int rc = once();
      if (rc != 0 || !resyncDue) {
        return rc;
      }
      System.out.println();
      SystemTime.pause(java.time.Duration.ofSeconds(1).toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
      if (Thread.currentThread().isInterrupted()) {
        return 0;
      }
    }
  }

  private boolean resyncDue;

  private int once() throws IOException, InterruptedException {
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
    resyncDue = false;
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
    JsonNode fo = s.path("failover");
    if (fo.isObject()) {
      System.out.printf("failover: automatic %s  term %d  %s%s  decision %s: %s%n",
          fo.path("automatic").asBoolean() ? "on" : "off",
          fo.path("term").asLong(),
          fo.path("fenced").asBoolean() ? "FENCED (writes refused)" : "not fenced",
          fo.path("maintenance").asBoolean() ? "  MAINTENANCE" : "",
          fo.path("decision").asText(),
          fo.path("reason").asText());
    }
    System.out.printf("%-12s %-8s %-12s %10s %14s %14s %12s %9s %12s %10s %10s%n", "VOLUME", "ROLE", "STATE", "SIZE", "JOURNALED", "ACKED/APPLIED", "LAG", "LAG(s)", "HISTORY", "OLDEST(s)", "DRAIN(s)");
    for (JsonNode v : s.path("volumes")) {
      long other = v.has("lastAckedByPeerSeq") ? v.path("lastAckedByPeerSeq").asLong() : v.path("lastAppliedSeq").asLong();
      System.out.printf(
          "%-12s %-8s %-12s %10s %14d %14d %12s %9.1f %12s %10s %10s%n",
          v.path("name").asText(),
          v.path("role").asText(),
          v.path("state").asText("?"),
          human(v.path("sizeBytes").asLong()),
          v.path("lastJournaledSeq").asLong(),
          other,
          human(v.path("lagBytes").asLong()),
          v.path("lagSeconds").asDouble(),
          v.hasNonNull("historyBytes") ? human(v.path("historyBytes").asLong()) : "-",
          v.hasNonNull("oldestUnsentAgeSeconds") ? String.format("%.1f", v.path("oldestUnsentAgeSeconds").asDouble()) : "-",
          v.hasNonNull("drainEtaSeconds") ? String.format("%.1f", v.path("drainEtaSeconds").asDouble()) : "-");
      if (v.has("resync")) {
        resyncDue = true;
        System.out.println("  resync " + progressLine(v.path("resync")));
      }
      if (v.hasNonNull("error")) {
        System.out.println("  error: " + v.path("error").asText());
      }
      if (v.has("recoverableFrom")) {
        JsonNode rf = v.path("recoverableFrom");
        System.out.printf("  recoverable from seq %d (%s), history %s%n", rf.path("seq").asLong(), rf.path("time").asText(), human(rf.path("undoBytes").asLong()));
      }
      if (v.has("drill")) {
        JsonNode d = v.path("drill");
        System.out.printf("  DRILL running at seq %d since %s: %s (%s written into the clone)%n", d.path("seq").asLong(), d.path("startedAt").asText(), d.path("uri").asText(), human(d.path("writtenBytes").asLong()));
        if (d.hasNonNull("voided")) {
          System.out.printf("  DRILL VOID (its reads and writes fail): %s%n", d.path("voided").asText());
        }
      }
    }
    return 0;
  }

  /** {@code [########------------]  40%  12.0 MiB of 20.0 MiB left, 3.1 MiB/s, ETA 4 s}. */
  static String progressLine(JsonNode r) {
    long total = r.path("totalBytes").asLong();
    long left = r.path("remainingBytes").asLong();
    double done = total <= 0 ? 1 : (double) (total - left) / total;
    int width = 24;
    int filled = (int) Math.round(done * width);
    StringBuilder bar = new StringBuilder("[");
    bar.repeat('#', filled).repeat('-', width - filled).append(']');
    String rate = r.path("bytesPerSecond").asDouble() > 0 ? ", " + human((long) r.path("bytesPerSecond").asDouble()) + "/s" : "";
    String eta = r.hasNonNull("etaSeconds") ? ", ETA " + Math.round(r.path("etaSeconds").asDouble()) + " s" : "";
    String state = r.path("running").asBoolean() ? "" : " (waiting for the link)";
    return String.format("%s %3d%%  %s of %s left%s%s%s", bar, Math.round(done * 100), human(left), human(total), rate, eta, state);
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
