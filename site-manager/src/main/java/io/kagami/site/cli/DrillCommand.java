package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.site.admin.AdminServer;
import io.kagami.site.config.HostPort;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami drill start|stop|status [--admin HOST:PORT]}: DR drills on a standby, through its
 * admin port ({@code POST/DELETE/GET /drill}). {@code start} prints the clone's {@code nbd://} URI.
 */
@Command(
    name = "drill",
    description = "DR drill on a standby: a writable clone of the replica at a point in time, exported over NBD while replication goes on.",
    subcommands = {DrillCommand.Start.class, DrillCommand.Stop.class, DrillCommand.Status.class})
final class DrillCommand {

  abstract static class Verb implements Callable<Integer> {
    @Option(names = "--admin", defaultValue = "127.0.0.1:9481", description = "the standby's admin address (default ${DEFAULT-VALUE})")
    String admin;

    HttpRequest.Builder request(HostPort hp, String query) {
      return HttpRequest.newBuilder(URI.create("http://" + hp + "/drill" + query));
    }
  }

  @Command(name = "start", description = "Start a drill: prints the nbd:// URI of the clone (default point: the last applied seq).")
  static final class Start extends Verb {
    @Option(names = "--volume", required = true, description = "the volume to clone")
    String volume;

    @Option(names = "--seq", description = "the sequence number to clone the replica at (within the retained history)")
    Long seq;

    @Option(names = "--at", description = "the time to clone the replica at: 2026-01-01T10:00:00Z, or an age such as 5m")
    String at;

    @Override
    public Integer call() throws Exception {
      if (seq != null && at != null) {
        System.err.println("kagami: give --seq or --at, not both");
        return 2;
      }
      HostPort hp = HostPort.parse(admin);
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("volume", volume);
      if (seq != null) {
        body.put("seq", seq);
      }
      if (at != null) {
        body.put("at", at);
      }
      HttpResponse<String> r =
          AdminClient.send(hp, request(hp, "").header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(AdminServer.JSON.writeValueAsString(body))));
      if (r == null) {
        return 1;
      }
      JsonNode b = AdminServer.JSON.readTree(r.body());
      System.out.println(b.path("uri").asText());
      System.err.printf(
          "kagami: drill of %s started at seq %d (replica at seq %d); writes to %s stay in the clone; stop with: kagami drill stop --volume %s%n",
          volume, b.path("seq").asLong(), b.path("appliedSeq").asLong(), b.path("export").asText(), volume);
      return 0;
    }
  }

  @Command(name = "stop", description = "Stop the drill of a volume: its export and connections go, everything written into the clone is discarded.")
  static final class Stop extends Verb {
    @Option(names = "--volume", required = true, description = "the volume whose drill to stop")
    String volume;

    @Override
    public Integer call() throws Exception {
      HostPort hp = HostPort.parse(admin);
      HttpResponse<String> r = AdminClient.send(hp, request(hp, "?volume=" + URLEncoder.encode(volume, StandardCharsets.UTF_8)).DELETE());
      if (r == null) {
        return 1;
      }
      JsonNode b = AdminServer.JSON.readTree(r.body());
      System.out.printf("kagami: drill of %s stopped: %d bytes written into %s discarded, %d NBD connection(s) closed%n", volume, b.path("discardedBytes").asLong(), b.path("export").asText(), b.path("closedConnections").asInt());
      return 0;
    }
  }

  @Command(name = "status", description = "Print running drills.")
  static final class Status extends Verb {
    @Override
    public Integer call() throws Exception {
      HostPort hp = HostPort.parse(admin);
      HttpResponse<String> r = AdminClient.send(hp, request(hp, "").GET());
      if (r == null) {
        return 1;
      }
      JsonNode b = AdminServer.JSON.readTree(r.body());
      if (b.isEmpty()) {
        System.out.println("no drill running");
      }
      for (JsonNode d : b) {
        System.out.printf("%s at seq %d since %s: %s (%d bytes written)%n", d.path("export").asText(), d.path("seq").asLong(), d.path("startedAt").asText(), d.path("uri").asText(), d.path("writtenBytes").asLong());
      }
      return 0;
    }
  }
}
