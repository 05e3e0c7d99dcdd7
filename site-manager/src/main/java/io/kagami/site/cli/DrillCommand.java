package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami drill start|stop|status [--admin HOST:PORT]}: DR drills on a standby, through its
 * admin port ({@code POST/DELETE/GET /drill}). {@code start} prints the clone's {@code nbd://} URI.
 */
@Command(
    name = "drill",
    description = {
      "Run a DR drill on a standby: a writable clone of the replica at a point in time, exported over NBD while replication goes on.",
      "The replica, the primary and replication are untouched; stopping the drill discards the clone."
    },
    subcommands = {DrillCommand.Start.class, DrillCommand.Stop.class, DrillCommand.Status.class})
final class DrillCommand {

  @Command(
      name = "start",
      description = {
        "Start a drill of a volume on the standby and print the nbd:// URI of its clone.",
        "The clone is taken at the last applied sequence number, or at --seq or --at within the retained history."
      })
  static final class Start extends SiteVerb {
    @Option(names = "--volume", required = true, description = "The volume to clone.")
    String volume;

    @Option(
        names = "--seq",
        paramLabel = "N",
        description = "The sequence number to clone the replica at (within the retained history).")
    Long seq;

    @Option(
        names = "--at",
        paramLabel = "TIME",
        description =
            "The time to clone the replica at: 2026-01-01T10:00:00Z, or an age such as 5m.")
    String at;

    @Override
    int run(AdminClient site) {
      if (seq != null && at != null) {
        throw CliError.usage(
            "give --seq or --at, not both", "kagami drill start --help explains both");
      }
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("volume", volume);
      if (seq != null) {
        body.put("seq", seq);
      }
      if (at != null) {
        body.put("at", at);
      }
      JsonNode b = site.send("POST", "/drill", body, Duration.ofMinutes(2));
      return print(
          b,
          () -> {
            System.out.println(b.path("uri").asText());
            System.err.printf(
                "kagami: drill of %s started at seq %d (replica at seq %d); writes to %s stay in the clone; stop it with: kagami drill stop --volume %s%n",
                volume,
                b.path("seq").asLong(),
                b.path("appliedSeq").asLong(),
                b.path("export").asText(),
                volume);
          });
    }
  }

  @Command(
      name = "stop",
      description =
          "Stop the drill of a volume: its export and connections go, and everything written into the clone is discarded.")
  static final class Stop extends SiteVerb {
    @Option(names = "--volume", required = true, description = "The volume whose drill to stop.")
    String volume;

    @Override
    int run(AdminClient site) {
      JsonNode b =
          site.send(
              "DELETE",
              "/drill?volume=" + URLEncoder.encode(volume, StandardCharsets.UTF_8),
              null,
              Duration.ofSeconds(30));
      return print(
          b,
          () ->
              System.out.printf(
                  "kagami: drill of %s stopped: %d bytes written into %s discarded, %d NBD connection(s) closed%n",
                  volume,
                  b.path("discardedBytes").asLong(),
                  b.path("export").asText(),
                  b.path("closedConnections").asInt()));
    }
  }

  @Command(
      name = "status",
      description =
          "Print the drills running on a standby, with their clone's URI and what was written into it.")
  static final class Status extends SiteVerb {
    @Override
    int run(AdminClient site) {
      JsonNode b = site.get("/drill");
      return print(
          b,
          () -> {
            if (b.isEmpty()) {
              System.out.println(
                  "no drill running (start one with kagami drill start --volume VOLUME)");
            }
            for (JsonNode d : b) {
              System.out.printf(
                  "%s at seq %d since %s: %s (%d bytes written)%s%n",
                  d.path("export").asText(),
                  d.path("seq").asLong(),
                  d.path("startedAt").asText(),
                  d.path("uri").asText(),
                  d.path("writtenBytes").asLong(),
                  d.hasNonNull("voided") ? "  VOID: " + d.path("voided").asText() : "");
            }
          });
    }
  }
}
