package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami switchover [--admin HOST:PORT] [--timeout SECONDS]}: planned move of the primary.
 */
@Command(
    name = "switchover",
    description = {
      "Move the primary role to the standby, with zero writes lost (planned switchover); run it against the primary.",
      "The primary stops taking writes, waits until the standby holds all of them, and the two sites swap roles; replication continues in the other direction.",
      "Hosts then reattach to the new primary (the old standby's NBD address serves the volumes read-write)."
    })
final class SwitchoverCommand extends SiteVerb {
  @Option(
      names = "--timeout",
      defaultValue = "30",
      paramLabel = "SECONDS",
      description =
          "Seconds to wait for writes to drain and the standby to confirm (default ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  @Override
  int run(AdminClient site) {
    if (timeoutSeconds < 1) {
      throw CliError.usage("--timeout " + timeoutSeconds + ": must be at least 1 second", null);
    }
    JsonNode out =
        site.send(
            "POST",
            "/switchover",
            Map.of("timeoutSeconds", timeoutSeconds),
            Duration.ofSeconds(timeoutSeconds + 30));
    return print(
        out,
        () -> {
          System.out.printf(
              "kagami: switchover done in %d ms: %s is the primary, %s its standby%n",
              out.path("millis").asLong(), out.path("primary").asText(), out.path("site").asText());
          out.path("endSeqs")
              .properties()
              .forEach(
                  e ->
                      System.out.printf(
                          "  %s: handed over at seq %d%n", e.getKey(), e.getValue().asLong()));
          if (!out.path("replicating").asBoolean(true)) {
            System.out.printf(
                "kagami: next: %s has not connected back yet: check kagami status on it before reattaching hosts%n",
                out.path("primary").asText());
          } else {
            System.out.printf(
                "kagami: next: reattach hosts to %s's NBD address%n", out.path("primary").asText());
          }
        });
  }
}
