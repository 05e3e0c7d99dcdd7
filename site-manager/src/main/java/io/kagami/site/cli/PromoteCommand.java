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
 * {@code kagami promote [--peer NAME] [--force] [--seq N | --at TIME] [--admin HOST:PORT]}:
 * unplanned failover to a standby, optionally to a point in the past within its retained history;
 * on an N:1 standby, {@code --peer} promotes only that primary's volumes.
 */
@Command(
    name = "promote",
    description = {
      "Make a standby site the primary of its volumes from what it holds (unplanned failover).",
      "Run it only when the old primary is down or fenced: nothing stops an old primary that is still running.",
      "Refused when a volume is inconsistent (an interrupted resync) unless --force.",
      "On an N:1 standby (peers:), --peer NAME promotes only that primary's volumes; the others keep replicating."
    })
final class PromoteCommand extends SiteVerb {
  @Option(
      names = "--peer",
      paramLabel = "NAME",
      description =
          "N:1 standby: promote only the volumes of this primary site (<NAME>.*); it is refused as stale from then on.")
  String peer;

  @Option(names = "--force", description = "Accept inconsistent volumes as they are.")
  boolean force;

  @Option(
      names = "--seq",
      paramLabel = "N",
      description =
          "Point in time: roll the replica back to this sequence number first (within the retained history).")
  Long seq;

  @Option(
      names = "--at",
      paramLabel = "TIME",
      description =
          "Point in time: roll back to the last write journaled at or before this time (2026-01-01T10:00:00Z, or an age such as 5m).")
  String at;

  @Option(
      names = "--volume",
      description =
          "With --seq on a site of several volumes: the volume the sequence number belongs to.")
  String volume;

  @Override
  int run(AdminClient site) {
    if (seq != null && at != null) {
      throw CliError.usage("give --seq or --at, not both", "kagami promote --help explains both");
    }
    Map<String, Object> request = new LinkedHashMap<>();
    request.put("force", force);
    if (seq != null) {
      request.put("seq", seq);
    }
    if (at != null) {
      request.put("at", at);
    }
    if (volume != null) {
      request.put("volume", volume);
    }
    // A point-in-time promotion rolls the replica back first: allow it the time that takes.
    String path =
        peer == null
            ? "/promote"
            : "/promote?peer=" + URLEncoder.encode(peer, StandardCharsets.UTF_8);
    JsonNode body = site.send("POST", path, request, Duration.ofMinutes(10));
    return print(
        body,
        () -> {
          if (peer == null) {
            System.out.printf(
                "kagami: %s is now the primary (promoted in %d ms%s)%n",
                site.address(),
                body.path("millis").asLong(),
                body.path("forced").asBoolean() ? ", forced" : "");
          } else {
            System.out.printf(
                "kagami: the volumes of %s are now writable at %s (promoted in %d ms%s); %s is refused as stale from now on, the other peers keep replicating%n",
                peer,
                site.address(),
                body.path("millis").asLong(),
                body.path("forced").asBoolean() ? ", forced" : "",
                peer);
          }
          for (JsonNode v : body.path("volumes")) {
            System.out.printf(
                "  %s: from seq %d%s%n",
                v.path("name").asText(),
                v.path("appliedSeq").asLong(),
                v.path("wasConsistent").asBoolean() ? "" : " (was inconsistent)");
          }
          System.out.println(
              peer == null
                  ? "kagami: next: reattach hosts to this site's NBD address; when the old primary returns, rejoin it with kagami failback"
                  : "kagami: next: attach the hosts of "
                      + peer
                      + " to this site's NBD exports "
                      + peer
                      + ".<volume>; failback of one peer is not supported yet (docs/runbooks/failover.md)");
        });
  }
}
