package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.site.config.Bandwidth;
import java.time.Duration;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami link show|set|clear [--admin HOST:PORT]}: the WAN link's bandwidth cap on a running
 * primary, through its admin port ({@code GET/PUT/DELETE /link}). {@code set} overrides the
 * configuration until {@code clear}; the connection stays up.
 */
@Command(
    name = "link",
    description =
        "Show or change the WAN link's bandwidth cap on a running primary, without reconnecting.",
    subcommands = {LinkCommand.Show.class, LinkCommand.Set.class, LinkCommand.Clear.class})
final class LinkCommand {
  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  abstract static class Verb extends SiteVerb {
    int show(JsonNode b) {
      return print(
          b,
          () -> {
            System.out.printf(
                "bandwidth cap %s (from %s)%n",
                b.path("bandwidth").asText(), b.path("source").asText());
            System.out.printf(
                "  configured (wan.bandwidth) %s%n",
                Bandwidth.format(b.path("configuredBytesPerSecond").asLong()));
            if (b.hasNonNull("overrideBytesPerSecond")) {
              System.out.printf(
                  "  override %s (kagami link clear to return to the configuration)%n",
                  Bandwidth.format(b.path("overrideBytesPerSecond").asLong()));
            }
            for (JsonNode w : b.path("schedule")) {
              System.out.printf("  schedule %s (%s)%n", w.asText(), b.path("timeZone").asText());
            }
          });
    }
  }

  @Command(
      name = "show",
      description =
          "Print the cap in force and where it comes from (override, schedule or configuration).")
  static final class Show extends Verb {
    @Override
    int run(AdminClient site) {
      return show(site.get("/link"));
    }
  }

  @Command(
      name = "set",
      description =
          "Override the cap until kagami link clear, e.g. --bandwidth 1500KB (KB = 1000 bytes, per second; unlimited = no cap).")
  static final class Set extends Verb {
    @Option(
        names = "--bandwidth",
        required = true,
        paramLabel = "RATE",
        description = "Bytes per second: 1500KB, 12MB, 2MiB, or unlimited.")
    String bandwidth;

    @Override
    int run(AdminClient site) {
      long rate;
      try {
        rate = Bandwidth.parse(bandwidth); // rejected here, before any request
      } catch (IllegalArgumentException e) {
        throw CliError.usage(
            "--bandwidth: " + e.getMessage(),
            "e.g. --bandwidth 1500KB (12 Mbit/s) or --bandwidth unlimited");
      }
      return show(site.send("PUT", "/link", Map.of("bandwidth", Long.toString(rate)), TIMEOUT));
    }
  }

  @Command(
      name = "clear",
      description =
          "Drop the override set at run time: the configured cap (or schedule) applies again.")
  static final class Clear extends Verb {
    @Override
    int run(AdminClient site) {
      return show(site.send("DELETE", "/link", null, TIMEOUT));
    }
  }
}
