package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.site.admin.AdminServer;
import io.kagami.site.config.HostPort;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kagami switchover [--admin HOST:PORT] [--timeout SECONDS]}: planned move of the primary. */
@Command(
    name = "switchover",
    description = {
      "Planned switchover, run against the primary: it stops taking writes, waits until the standby holds all of them,",
      "and the two sites swap roles; replication continues in the other direction. Zero writes are lost.",
      "Hosts then reattach to the new primary (the old standby's NBD address serves the volumes read-write)."
    })
final class SwitchoverCommand implements Callable<Integer> {
  @Option(names = "--admin", defaultValue = "127.0.0.1:9480", description = "the primary's admin address (default ${DEFAULT-VALUE})")
  String admin;

  @Option(names = "--timeout", defaultValue = "30", description = "seconds to wait for writes to drain and the standby to confirm (default ${DEFAULT-VALUE})")
  long timeoutSeconds;

  @Override
  public Integer call() throws Exception {
    HostPort hp = HostPort.parse(admin);
    String body = AdminServer.JSON.writeValueAsString(Map.of("timeoutSeconds", timeoutSeconds));
    HttpResponse<String> r =
        AdminClient.send(
            hp,
            HttpRequest.newBuilder(URI.create("http://" + hp + "/switchover")).timeout(java.time.Duration.ofSeconds(timeoutSeconds + 30)).POST(HttpRequest.BodyPublishers.ofString(body)));
    if (r == null) {
      return 1; // refused (HTTP 409 with the reason) or no site answering: AdminClient said which
    }
    JsonNode out = AdminServer.JSON.readTree(r.body());
    System.out.printf("kagami: switchover done in %d ms: %s is the primary, %s its standby%n", out.path("millis").asLong(), out.path("primary").asText(), out.path("site").asText());
    out.path("endSeqs").properties().forEach(e -> System.out.printf("  %s: handed over at seq %d%n", e.getKey(), e.getValue().asLong()));
    if (!out.path("replicating").asBoolean(true)) {
      System.out.printf("  %s has not connected back yet: check kagami status on it before reattaching hosts%n", out.path("primary").asText());
    }
    return 0;
  }
}
