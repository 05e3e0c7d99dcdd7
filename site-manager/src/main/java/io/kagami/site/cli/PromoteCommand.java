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

/**
 * {@code kagami promote [--force] [--seq N | --at TIME] [--admin HOST:PORT]}: unplanned failover to
 * a standby, optionally to a point in the past within its retained history.
 */
@Command(
    name = "promote",
    description = {
      "Make a standby site the primary of its volumes, from what it holds (unplanned failover).",
      "Only when the old primary is down or fenced: nothing stops an old primary that is still running.",
      "Refused when a volume is inconsistent (an interrupted resync) unless --force."
    })
final class PromoteCommand implements Callable<Integer> {
  @Option(names = "--admin", defaultValue = "127.0.0.1:9481", description = "the standby's admin address (default ${DEFAULT-VALUE})")
  String admin;

  @Option(names = "--force", description = "accept inconsistent volumes as they are")
  boolean force;

  @Option(names = "--seq", description = "point-in-time: roll the replica back to this sequence number first (within the retained history)")
  Long seq;

  @Option(names = "--at", description = "point-in-time: roll back to the last write journaled at or before this time (2026-01-01T10:00:00Z, or an age such as 5m)")
  String at;

  @Option(names = "--volume", description = "with --seq on a site of several volumes: the volume the seq belongs to")
  String volume;

  @Override
  public Integer call() throws Exception {
    HostPort hp = HostPort.parse(admin);
    if (seq != null && at != null) {
      System.err.println("kagami: give --seq or --at, not both");
      return 2;
    }
    java.util.Map<String, Object> request = new java.util.LinkedHashMap<>();
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
    HttpResponse<String> r =
        AdminClient.send(hp, HttpRequest.newBuilder(URI.create("http://" + hp + "/promote")).POST(HttpRequest.BodyPublishers.ofString(AdminServer.JSON.writeValueAsString(request))));
    if (r == null) {
      return 1; // refused (HTTP 409 with the reason) or no site answering: AdminClient said which
    }
    JsonNode body = AdminServer.JSON.readTree(r.body());
    System.out.printf("kagami: %s is now the primary (promoted in %d ms%s)%n", hp, body.path("millis").asLong(), body.path("forced").asBoolean() ? ", forced" : "");
    for (JsonNode v : body.path("volumes")) {
      System.out.printf("  %s: from seq %d%s%n", v.path("name").asText(), v.path("appliedSeq").asLong(), v.path("wasConsistent").asBoolean() ? "" : " (was inconsistent)");
    }
    return 0;
  }
}
