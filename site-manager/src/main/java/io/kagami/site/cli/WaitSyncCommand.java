package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.clock.SystemTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami wait-sync [--timeout SECONDS] [--admin HOST:PORT]}: waits until a site is caught up
 * (as {@code drbdadm wait-sync} does), for scripts and runbooks that must not race replication: on
 * a primary, until its link is up and the standby holds every write durably (lag 0 on every
 * volume); on a standby, until it has applied everything it received and no volume is inconsistent.
 */
@Command(
    name = "wait-sync",
    description = {
      "Wait until a site is caught up: a primary until the standby holds every write (lag 0, link up), a standby until it has applied everything it received.",
      "Ends with 0 once caught up, or 1 (failed) when --timeout passes first, saying how far behind each volume still is."
    })
final class WaitSyncCommand extends SiteVerb {
  private static final Duration POLL = Duration.ofMillis(200);

  @Option(
      names = "--timeout",
      defaultValue = "60",
      paramLabel = "SECONDS",
      description = "How long to wait at most (default ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  @Override
  int run(AdminClient site) {
    if (timeoutSeconds < 0) {
      throw CliError.usage("--timeout " + timeoutSeconds + ": must not be negative", null);
    }
    long start = SystemTime.NANO.nanoTime();
    long limit = Duration.ofSeconds(timeoutSeconds).toNanos();
    while (true) {
      JsonNode s = site.get("/status");
      List<String> behind = behind(s);
      if (behind.isEmpty()) {
        return print(
            s,
            () ->
                System.out.printf(
                    "kagami: %s (%s) is in sync%n",
                    s.path("siteId").asText(), s.path("role").asText()));
      }
      if (SystemTime.NANO.nanosSince(start) >= limit) {
        throw CliError.failed(
            s.path("siteId").asText()
                + " ("
                + s.path("role").asText()
                + ") is not in sync after "
                + timeoutSeconds
                + " s: "
                + String.join("; ", behind),
            "look at kagami status --admin "
                + site.address()
                + " (link, state, lag), or wait longer with --timeout");
      }
      SystemTime.pause(POLL); // another process's state: there is no event to wait on
      if (Thread.currentThread().isInterrupted()) {
        throw CliError.failed("interrupted", null);
      }
    }
  }

  /** What keeps {@code status} from being in sync; empty when it is. */
  static List<String> behind(JsonNode status) {
    List<String> behind = new ArrayList<>();
    boolean primary = status.path("role").asText().equals("primary");
    if (primary && !status.path("link").path("connected").asBoolean()) {
      behind.add("link to " + status.path("link").path("peerSiteId").asText("?") + " is down");
    }
    for (JsonNode v : status.path("volumes")) {
      String state = v.path("state").asText();
      if (v.path("lagBytes").asLong() > 0) {
        behind.add(
            v.path("name").asText()
                + " "
                + v.path("lagBytes").asLong()
                + " bytes behind ("
                + state
                + ")");
      } else if (state.equals("inconsistent")
          || state.equals("resyncing")
          || state.equals("initial-sync")
          || state.equals("bitmap")) {
        behind.add(v.path("name").asText() + " " + state);
      }
    }
    return behind;
  }
}
