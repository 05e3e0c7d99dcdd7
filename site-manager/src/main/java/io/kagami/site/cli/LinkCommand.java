package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.site.admin.AdminServer;
import io.kagami.site.config.Bandwidth;
import io.kagami.site.config.HostPort;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami link show|set|clear [--admin HOST:PORT]}: the WAN link's bandwidth cap on a running
 * primary, through its admin port ({@code GET/PUT/DELETE /link}). {@code set} overrides the
 * configuration until {@code clear}; the connection stays up.
 */
@Command(name = "link", description = "Show or change the WAN link's bandwidth cap on a running primary.", subcommands = {LinkCommand.Show.class, LinkCommand.Set.class, LinkCommand.Clear.class})
final class LinkCommand {

  abstract static class Verb implements Callable<Integer> {
    @Option(names = "--admin", defaultValue = "127.0.0.1:9480", description = "the primary's admin address (default ${DEFAULT-VALUE})")
    String admin;

    Integer print(HttpResponse<String> r) throws IOException {
      if (r == null) {
        return 2;
      }
      JsonNode b = AdminServer.JSON.readTree(r.body());
      System.out.printf("bandwidth cap %s (from %s)%n", b.path("bandwidth").asText(), b.path("source").asText());
      System.out.printf("  configured (wan.bandwidth) %s%n", Bandwidth.format(b.path("configuredBytesPerSecond").asLong()));
      if (b.hasNonNull("overrideBytesPerSecond")) {
        System.out.printf("  override %s (kagami link clear to return to the configuration)%n", Bandwidth.format(b.path("overrideBytesPerSecond").asLong()));
      }
      for (JsonNode w : b.path("schedule")) {
        System.out.printf("  schedule %s (%s)%n", w.asText(), b.path("timeZone").asText());
      }
      return 0;
    }

    HttpRequest.Builder request(HostPort hp) {
      return HttpRequest.newBuilder(URI.create("http://" + hp + "/link"));
    }
  }

  @Command(name = "show", description = "Print the cap in force and where it comes from (override, schedule, config).")
  static final class Show extends Verb {
    @Override
    public Integer call() throws Exception {
      HostPort hp = HostPort.parse(admin);
      return print(AdminClient.send(hp, request(hp).GET()));
    }
  }

  @Command(name = "set", description = "Override the cap at run time, e.g. --bandwidth 1500KB (KB = 1000 bytes, per second; unlimited = no cap).")
  static final class Set extends Verb {
    @Option(names = "--bandwidth", required = true, description = "bytes per second: 1500KB, 12MB, 2MiB, or unlimited")
    String bandwidth;

    @Override
    public Integer call() throws Exception {
      long rate = Bandwidth.parse(bandwidth); // rejected here, before any request
      HostPort hp = HostPort.parse(admin);
      String body = AdminServer.JSON.writeValueAsString(Map.of("bandwidth", Long.toString(rate)));
      return print(AdminClient.send(hp, request(hp).header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString(body))));
    }
  }

  @Command(name = "clear", description = "Drop the runtime override: the configured cap (or schedule) applies again.")
  static final class Clear extends Verb {
    @Override
    public Integer call() throws Exception {
      HostPort hp = HostPort.parse(admin);
      return print(AdminClient.send(hp, request(hp).DELETE()));
    }
  }
}
