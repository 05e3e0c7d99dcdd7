package io.kagami.site.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.kagami.clock.SystemTime;
import io.kagami.site.config.Bandwidth;
import java.time.Duration;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami status [--json] [--watch] [--admin HOST:PORT]}: a site's replication state, once or
 * as a live view that refreshes until Ctrl-C (a site that stops answering shows as such and the
 * view goes on, so it can follow a restart, a switchover or a resync).
 */
@Command(
    name = "status",
    description = {
      "Show a site's role, its WAN link, and per volume its state, sequence numbers, lag, unsent history and any resync or drill.",
      "With --watch the view refreshes every second until Ctrl-C; with --json it prints GET /status as it is (one line per refresh with --watch)."
    })
final class StatusCommand extends SiteVerb {
  private static final ObjectWriter ONE_LINE =
      Json.MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT);
  private static final DateTimeFormatter CLOCK =
      DateTimeFormatter.ofPattern("HH:mm:ss").withZone(ZoneId.systemDefault());

  @Option(
      names = "--watch",
      description =
          "Refresh every second until Ctrl-C: a live view of the site, a resync's progress bar included.")
  boolean watch;

  @Option(
      names = "--interval",
      defaultValue = "1",
      paramLabel = "SECONDS",
      description = "With --watch: seconds between refreshes (default ${DEFAULT-VALUE}).")
  int intervalSeconds;

  @Override
  int run(AdminClient site) {
    if (!watch) {
      JsonNode s = site.get("/status");
      return print(s, () -> System.out.print(table(s)));
    }
    if (intervalSeconds < 1) {
      throw CliError.usage("--interval " + intervalSeconds + ": must be at least 1 second", null);
    }
    boolean terminal = System.console() != null && System.console().isTerminal();
    while (!Thread.currentThread().isInterrupted()) {
      String now = CLOCK.format(SystemTime.WALL.instant());
      if (json) {
        try {
          Object answer;
          try {
            answer = site.get("/status");
          } catch (CliError e) {
            answer = Main.errorJson(e.exitCode(), e.getMessage(), e.next());
          }
          System.out.println(ONE_LINE.writeValueAsString(answer));
        } catch (JsonProcessingException e) {
          throw new IllegalStateException(e);
        }
      } else {
        String view;
        try {
          view = table(site.get("/status"));
        } catch (CliError e) {
          view =
              "kagami: "
                  + e.getMessage()
                  + "\n"
                  + (e.next() == null ? "" : "kagami: " + e.next() + "\n");
        }
        // On a terminal the view replaces the last one (as watch(1) does); piped, views follow each
        // other.
        System.out.print(
            (terminal ? "\033[H\033[2J" : "\n")
                + "every "
                + intervalSeconds
                + " s at "
                + now
                + " ("
                + site.address()
                + "; Ctrl-C stops)\n"
                + view);
      }
      System.out.flush();
      SystemTime.pause(
          Duration.ofSeconds(intervalSeconds)); // a refresh interval: there is no event to wait for
    }
    return ExitCode.OK;
  }

  /** The text view of one {@code GET /status} answer. */
  static String table(JsonNode s) {
    StringBuilder out = new StringBuilder();
    JsonNode link = s.path("link");
    out.append(
        String.format(
            "site %s  role %s  nbd %s%n",
            s.path("siteId").asText(), s.path("role").asText(), s.path("nbd").asText()));
    boolean connected = link.path("connected").asBoolean();
    // The last error explains a link that is down; once connected again it is history, not state.
    out.append(
        String.format(
            "link to %s: %s%s%n",
            link.path("peerSiteId").asText("?"),
            connected ? "connected" : "DISCONNECTED",
            !connected && link.hasNonNull("lastError")
                ? "  (last error: " + link.path("lastError").asText() + ")"
                : ""));
    // An N:1 standby: one line per primary site, each with its own link and lag.
    for (JsonNode p : s.path("peers")) {
      boolean up = p.path("connected").asBoolean();
      if (p.path("role").asText().equals("promoted")) {
        out.append(
            String.format(
                "  peer %s: PROMOTED here at %s  %d volume(s) writable  (its old primary is refused as stale)%n",
                p.path("siteId").asText(),
                p.path("promotedAt").asText("?"),
                p.path("volumes").size()));
        continue;
      }
      out.append(
          String.format(
              "  peer %s: %s  %d volume(s)  lag %s, %.1f s  received %s%n",
              p.path("siteId").asText(),
              up
                  ? "connected from "
                      + p.path("remoteAddress").asText()
                      + " since "
                      + p.path("connectedSince").asText()
                  : "DISCONNECTED",
              p.path("volumes").size(),
              human(p.path("lagBytes").asLong()),
              p.path("lagSeconds").asDouble(),
              human(p.path("receivedBytes").asLong())));
    }
    if (link.has("bandwidthBytesPerSecond")) {
      out.append(
          String.format(
              "bandwidth cap %s (%s)  sending %s%n",
              Bandwidth.format(link.path("bandwidthBytesPerSecond").asLong()),
              link.path("bandwidthSource").asText("?"),
              Bandwidth.format(Math.round(link.path("sendRateBytesPerSecond").asDouble()))
                  .replace("unlimited", "0 B/s")));
    }
    JsonNode fo = s.path("failover");
    if (fo.isObject()) {
      out.append(
          String.format(
              "failover: automatic %s  term %d  %s%s  decision %s: %s%n",
              fo.path("automatic").asBoolean() ? "on" : "off",
              fo.path("term").asLong(),
              fo.path("fenced").asBoolean() ? "FENCED (writes refused)" : "not fenced",
              fo.path("maintenance").asBoolean() ? "  MAINTENANCE" : "",
              fo.path("decision").asText(),
              fo.path("reason").asText()));
    }
    out.append(
        String.format(
            "%-12s %-8s %-12s %10s %14s %14s %12s %9s %12s %10s %10s%n",
            "VOLUME",
            "ROLE",
            "STATE",
            "SIZE",
            "JOURNALED",
            "ACKED/APPLIED",
            "LAG",
            "LAG(s)",
            "HISTORY",
            "OLDEST(s)",
            "DRAIN(s)"));
    for (JsonNode v : s.path("volumes")) {
      long other =
          v.has("lastAckedByPeerSeq")
              ? v.path("lastAckedByPeerSeq").asLong()
              : v.path("lastAppliedSeq").asLong();
      out.append(
          String.format(
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
              v.hasNonNull("oldestUnsentAgeSeconds")
                  ? String.format("%.1f", v.path("oldestUnsentAgeSeconds").asDouble())
                  : "-",
              v.hasNonNull("drainEtaSeconds")
                  ? String.format("%.1f", v.path("drainEtaSeconds").asDouble())
                  : "-"));
      if (v.has("primary") && v.path("role").asText().equals("standby")) {
        JsonNode p = v.path("primary");
        out.append(
            String.format(
                "  primary last heard %.1f s ago (%s): journaled through seq %d, %s not acknowledged then%s%n",
                p.path("secondsSinceContact").asDouble(),
                p.path("lastContactAt").asText(),
                p.path("lastJournaledSeq").asLong(),
                human(p.path("unackedBytes").asLong()),
                v.path("state").asText().equals("disconnected")
                    ? "; this site holds through seq "
                        + v.path("lastJournaledSeq").asLong()
                        + " (LAG is at least what is provable since)"
                    : ""));
      }
      if (v.has("resync")) {
        out.append("  resync ").append(progressLine(v.path("resync"))).append('\n');
      }
      if (v.hasNonNull("error")) {
        out.append("  error: ").append(v.path("error").asText()).append('\n');
      }
      if (v.has("recoverableFrom")) {
        JsonNode rf = v.path("recoverableFrom");
        out.append(
            String.format(
                "  recoverable from seq %d (%s), history %s%n",
                rf.path("seq").asLong(),
                rf.path("time").asText(),
                human(rf.path("undoBytes").asLong())));
      }
      if (v.has("drill")) {
        JsonNode d = v.path("drill");
        out.append(
            String.format(
                "  DRILL running at seq %d since %s: %s (%s written into the clone)%n",
                d.path("seq").asLong(),
                d.path("startedAt").asText(),
                d.path("uri").asText(),
                human(d.path("writtenBytes").asLong())));
        if (d.hasNonNull("voided")) {
          out.append(
              String.format(
                  "  DRILL VOID (its reads and writes fail): %s; stop it with kagami drill stop --volume %s%n",
                  d.path("voided").asText(), v.path("name").asText()));
        }
      }
    }
    for (String hint : hints(s)) {
      out.append("next: ").append(hint).append('\n');
    }
    return out.toString();
  }

  /** What an operator should look at next, from what the status shows; empty when all is well. */
  static List<String> hints(JsonNode s) {
    List<String> hints = new ArrayList<>();
    boolean primary = s.path("role").asText().equals("primary");
    if (primary && !s.path("link").path("connected").asBoolean()) {
      hints.add(
          "the standby is not connected: writes go on into history; check the standby (kagami status --admin STANDBY) and the WAN path to "
              + s.path("link").path("address").asText("it"));
    }
    for (JsonNode p : s.path("peers")) {
      if (!p.path("connected").asBoolean() && !p.path("role").asText().equals("promoted")) {
        hints.add(
            "primary "
                + p.path("siteId").asText()
                + " is not connected: its volumes fall behind (the other peers are not affected); check that site (kagami status --admin "
                + p.path("siteId").asText()
                + "'s admin address) and its WAN path");
      }
    }
    if (s.path("failover").path("fenced").asBoolean()) {
      hints.add(
          "writes are fenced: "
              + s.path("failover")
                  .path("fencedReason")
                  .asText("see failover in kagami status --json")
              + " (runbook: docs/runbooks/alerts/site-fenced.md)");
    }
    for (JsonNode v : s.path("volumes")) {
      String name = v.path("name").asText();
      switch (v.path("state").asText()) {
        case "inconsistent" ->
            hints.add(
                name
                    + " is inconsistent until its resync ends: do not promote this site unless you must (kagami promote --force)");
        case "degraded" ->
            hints.add(
                name
                    + " is degraded: see its error above and the site's log (runbook: docs/runbooks/alerts/volume-degraded.md)");
        case "disk-full" ->
            hints.add(
                name
                    + " is out of disk space: free space on the filesystem its error names; it resumes by itself, no restart (runbook: docs/runbooks/alerts/volume-disk-full.md)");
        case "bitmap" ->
            hints.add(
                name
                    + " overflowed its history: it resynchronizes once the link is back (runbook: docs/runbooks/alerts/volume-bitmap.md)");
        default -> {}
      }
    }
    return hints;
  }

  /** {@code [########------------] 40% 12.0 MiB of 20.0 MiB left, 3.1 MiB/s, ETA 4 s}. */
  static String progressLine(JsonNode r) {
    long total = r.path("totalBytes").asLong();
    long left = r.path("remainingBytes").asLong();
    double done = total <= 0 ? 1 : (double) (total - left) / total;
    int width = 24;
    int filled = (int) Math.round(done * width);
    StringBuilder bar = new StringBuilder("[");
    bar.repeat('#', filled).repeat('-', width - filled).append(']');
    String rate =
        r.path("bytesPerSecond").asDouble() > 0
            ? ", " + human((long) r.path("bytesPerSecond").asDouble()) + "/s"
            : "";
    String eta =
        r.hasNonNull("etaSeconds")
            ? ", ETA " + Math.round(r.path("etaSeconds").asDouble()) + " s"
            : "";
    String state = r.path("running").asBoolean() ? "" : " (waiting for the link)";
    return String.format(
        "%s %3d%%  %s of %s left%s%s%s",
        bar, Math.round(done * 100), human(left), human(total), rate, eta, state);
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
