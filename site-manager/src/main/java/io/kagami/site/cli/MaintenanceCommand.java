package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code kagami maintenance on|off|show [--admin HOST:PORT]}: maintenance mode of a site (a planned
 * stop): no automatic failover from it, and its peer is told so in every heartbeat. Kept across
 * restarts of the site.
 */
@Command(
    name = "maintenance",
    description = {
      "Turn maintenance mode on or off, or show it: no automatic failover while it is on (kept across restarts).",
      "Set it on both sites before planned work, and turn it off when done."
    })
final class MaintenanceCommand extends SiteVerb {
  enum Action {
    on,
    off,
    show
  }

  @Parameters(index = "0", paramLabel = "on|off|show", description = "on, off or show.")
  Action action;

  @Override
  int run(AdminClient site) {
    JsonNode body =
        switch (action) {
          case on -> site.send("PUT", "/maintenance", null, Duration.ofSeconds(10));
          case off -> site.send("DELETE", "/maintenance", null, Duration.ofSeconds(10));
          case show -> site.get("/maintenance");
        };
    return print(
        body,
        () ->
            System.out.printf(
                "kagami: site %s maintenance %s%s%n",
                body.path("siteId").asText(),
                body.path("maintenance").asBoolean()
                    ? "ON (no automatic failover; kagami maintenance off when done)"
                    : "off",
                body.path("automatic").asBoolean()
                    ? ""
                    : " (automatic failover is off in this site's configuration anyway)"));
  }
}
