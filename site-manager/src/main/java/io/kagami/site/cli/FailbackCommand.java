package io.kagami.site.cli;

import io.kagami.clock.SystemTime;
import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.site.admin.AdminServer;
import io.kagami.site.config.HostPort;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kagami failback [--admin HOST:PORT]}: an old primary rejoins as the standby. */
@Command(
    name = "failback",
    description = {
      "Run against an old primary that returned after its standby was promoted: it stops taking writes and",
      "becomes the standby of the new primary. Its writes after the promotion point are saved aside (under",
      "saved/ in its data directory) and discarded; only the ranges changed on either side are copied back."
    })
final class FailbackCommand implements Callable<Integer> {
  @Option(names = "--admin", defaultValue = "127.0.0.1:9480", description = "the old primary's admin address, while it runs (default ${DEFAULT-VALUE})")
  String admin;

  @Option(
      names = "--config",
      description = "instead of --admin, while the old primary is stopped: its YAML configuration; it then starts as the standby and never takes writes")
  java.nio.file.Path config;

  @Override
  public Integer call() throws Exception {
    if (config != null) {
      io.kagami.site.config.SiteConfig cfg = io.kagami.site.config.ConfigLoader.load(config);
      if (AdminClient.answers(cfg.adminListen())) {
        System.err.println("kagami: site " + cfg.siteId() + " is running (its admin address " + cfg.adminListen() + " answers): use kagami failback --admin " + cfg.adminListen());
        return 1;
      }
      try {
        System.out.println("kagami: " + io.kagami.site.Site.markForFailback(cfg, SystemTime.WALL) + "; start it with kagami run --config " + config);
        return 0;
      } catch (io.kagami.site.Promotion.RefusedException e) {
        System.err.println("kagami: " + e.getMessage());
        return 1;
      }
    }
    HostPort hp = HostPort.parse(admin);
    HttpResponse<String> r = AdminClient.send(hp, HttpRequest.newBuilder(URI.create("http://" + hp + "/failback")).POST(HttpRequest.BodyPublishers.noBody()));
    if (r == null) {
      return 1; // refused (HTTP 409 with the reason) or no site answering: AdminClient said which
    }
    JsonNode out = AdminServer.JSON.readTree(r.body());
    System.out.printf(
        "kagami: %s is now the standby of %s (listening on %s); it resynchronizes once %s connects — follow it with kagami status%n",
        out.path("site").asText(),
        out.path("primary").asText(),
        out.path("listen").asText(),
        out.path("primary").asText());
    return 0;
  }
}
