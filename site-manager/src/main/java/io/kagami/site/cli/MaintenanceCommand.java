package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.site.admin.AdminServer;
import io.kagami.site.config.HostPort;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code kagami maintenance on|off|show [--admin HOST:PORT]}: maintenance mode of a site (a planned
 * stop): no automatic failover from it, and its peer is told so in every heartbeat. Kept across
 * restarts of the site.
 */
@Command(
    name = "maintenance",
    description = {
      "Maintenance mode for a planned stop: no automatic failover while it is on (kept across restarts).",
      "Set it on both sites before planned work; turn it off when done."
    })
final class MaintenanceCommand implements Callable<Integer> {
  @Parameters(index = "0", description = "on, off or show")
  String action;

  @Option(names = "--admin", defaultValue = "127.0.0.1:9480", description = "the site's admin address (default ${DEFAULT-VALUE})")
  String admin;

  @Override
  public Integer call() throws Exception {
    HostPort hp = HostPort.parse(admin);
    URI uri = URI.create("http://" + hp + "/maintenance");
    HttpRequest.Builder req = switch (action) {
      case "on" -> HttpRequest.newBuilder(uri).PUT(HttpRequest.BodyPublishers.noBody());
      case "off" -> HttpRequest.newBuilder(uri).DELETE();
      case "show" -> HttpRequest.newBuilder(uri).GET();
      default -> null;
    };
    if (req == null) {
      System.err.println("kagami: maintenance " + action + ": say on, off or show");
      return 2;
    }
    HttpResponse<String> r = AdminClient.send(hp, req);
    if (r == null) {
      return 1;
    }
    JsonNode body = AdminServer.JSON.readTree(r.body());
    System.out.printf("kagami: site %s maintenance %s%s%n", body.path("siteId").asText(), body.path("maintenance").asBoolean() ? "ON (no automatic failover)" : "off",
        body.path("automatic").asBoolean() ? "" : " (automatic failover is off in this site's configuration anyway)");
    return 0;
  }
}
