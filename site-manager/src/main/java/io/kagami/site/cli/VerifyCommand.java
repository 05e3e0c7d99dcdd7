package io.kagami.site.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kagami verify --volume V [--admin HOST:PORT]}: starts a verification pass now. */
@Command(
    name = "verify",
    description = {
      "Start a pass of in-stream verification over a volume now, on the primary: it checksums every region at a point of the history and the standby checks its replica at the same point.",
      "Follow it with kagami status on the standby (verify.lastPass, verify.mismatches); a region that differs is copied again."
    })
final class VerifyCommand extends SiteVerb {
  @Option(
      names = "--volume",
      required = true,
      paramLabel = "NAME",
      description = "The volume to verify (its name on the primary).")
  String volume;

  @Override
  int run(AdminClient site) {
    JsonNode out = site.send("POST", "/verify", Map.of("volume", volume), Duration.ofSeconds(30));
    return print(
        out,
        () ->
            System.out.printf(
                "kagami: verification pass %d of volume %s starts now at %s bytes/s; follow it on the standby with kagami status (verify.lastPass)%n",
                out.path("pass").asLong(),
                out.path("volume").asText(),
                out.path("rateBytesPerSecond").asText()));
  }
}
