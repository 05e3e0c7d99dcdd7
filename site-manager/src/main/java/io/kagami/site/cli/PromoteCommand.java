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

/** {@code kagami promote [--force] [--admin HOST:PORT]}: unplanned failover to a standby. */
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

  @Override
  public Integer call() throws Exception {
    HostPort hp = HostPort.parse(admin);
    HttpResponse<String> r =
        AdminClient.send(hp, HttpRequest.newBuilder(URI.create("http://" + hp + "/promote")).POST(HttpRequest.BodyPublishers.ofString("{\"force\": " + force + "}")));
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
