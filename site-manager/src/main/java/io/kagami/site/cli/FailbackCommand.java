package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami failback [--admin HOST:PORT | --config FILE]}: an old primary rejoins as the
 * standby.
 */
@Command(
    name = "failback",
    description = {
      "Make an old primary that returned after its standby was promoted the standby of the new primary.",
      "It stops taking writes; its writes after the promotion point are saved aside (under saved/ in its data directory) and discarded; only the ranges changed on either side are copied back.",
      "With --config instead of --admin it works on a stopped site, which then starts as the standby and never takes writes."
    })
final class FailbackCommand extends SiteVerb {
  @Option(
      names = "--config",
      paramLabel = "FILE",
      description =
          "Instead of --admin, while the old primary is stopped: its YAML configuration; it then starts (kagami run --config FILE) as the standby.")
  Path config;

  @Override
  public Integer call() throws Exception {
    return config != null ? OfflineFailback.mark(config, json) : super.call();
  }

  @Override
  int run(AdminClient site) {
    JsonNode out = site.send("POST", "/failback", null, Duration.ofSeconds(60));
    return print(
        out,
        () ->
            System.out.printf(
                "kagami: %s is now the standby of %s (listening on %s); it resynchronizes once %s connects: follow it with kagami status --watch --admin %s%n",
                out.path("site").asText(),
                out.path("primary").asText(),
                out.path("listen").asText(),
                out.path("primary").asText(),
                site.address()));
  }
}
