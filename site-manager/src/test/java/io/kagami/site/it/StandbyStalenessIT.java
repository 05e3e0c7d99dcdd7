package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kagami.clock.SystemTime;
import io.kagami.testkit.nbd.NbdTestClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A standby that loses its primary with history still unsent never shows a lag of 0: killed primary
 * (kill -9) behind a slow link, the standby's {@code status --json}, {@code /status} and metrics
 * say {@code disconnected}, a lag that grows with time, and the primary's last journaled seq from
 * its last heartbeat; after {@code promote}, the status names the old primary as the peer.
 */
class StandbyStalenessIT {
  private static final long VOLUME = 64L << 20;
  private static final Duration T = Duration.ofMinutes(2);
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir Path dir;

  @Test
  void aStandbyWithoutItsPrimaryReportsADisconnectedGrowingLagAndThePrimarysLastSeq()
      throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    Random rnd = new Random(seed);
    System.out.println("StandbyStalenessIT seed=" + seed);
    {
      try (TwoSites sites = new TwoSites(dir, VOLUME).start()) {
        sites.awaitInSync(T);
        // The primary's link capped at 300 KB/s and 8 MiB of incompressible writes: most of it
        // stays
        // unsent, in the primary's history (Kagami paces its own sends, so heartbeats still flow).
        PromoteIT.Cli cap =
            PromoteIT.cli(
                "link",
                "set",
                "--bandwidth",
                "300KB",
                "--admin",
                "127.0.0.1:" + sites.primaryAdmin);
        assertThat(cap.exit()).as(cap.output()).isZero();
        try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
          for (int i = 0; i < 32; i++) {
            byte[] data = new byte[256 << 10];
            rnd.nextBytes(data);
            c.write((long) i * data.length, data).get(30, TimeUnit.SECONDS);
          }
        }
        long primaryLast = TwoSites.vol0(sites.primary.status()).path("lastJournaledSeq").asLong();
        // The standby hears the primary's journal head every heartbeat (2 s), also while it
        // streams.
        sites.standby.awaitStatus(
            s ->
                TwoSites.vol0(s).path("primary").path("lastJournaledSeq").asLong() >= primaryLast
                    && TwoSites.vol0(s).path("primary").path("unackedBytes").asLong() > (1L << 20),
            T,
            "the primary's head (seq "
                + primaryLast
                + ", over 1 MiB unacknowledged) in the standby's status");

        sites.primary.kill9();
        sites.standby.awaitStatus(
            s -> !s.path("link").path("connected").asBoolean(),
            T,
            "the standby to see its primary gone");

        JsonNode first = TwoSites.vol0(sites.standby.status());
        assertThat(first.path("state").asText())
            .as("state of a standby without its primary")
            .isEqualTo("disconnected");
        assertThat(first.path("lagBytes").asLong())
            .as("lag bytes: the primary had more than 1 MiB unacknowledged")
            .isGreaterThan(0);
        assertThat(first.path("lagSeconds").asDouble()).as("lag seconds").isGreaterThan(0);
        // At or past the seq read before the kill: verification points may follow the writes.
        long heard = first.path("primary").path("lastJournaledSeq").asLong();
        assertThat(heard)
            .as("the primary's last seq, as last heard")
            .isGreaterThanOrEqualTo(primaryLast);
        assertThat(first.path("lastJournaledSeq").asLong())
            .as("what this standby holds")
            .isLessThan(primaryLast);
        assertThat(first.path("primary").path("lastContactAt").asText()).isNotEmpty();

        // The lag it can prove grows with the time since the last contact.
        double lag0 = first.path("lagSeconds").asDouble();
        JsonNode later =
            sites.standby.awaitStatus(
                s -> TwoSites.vol0(s).path("lagSeconds").asDouble() >= lag0 + 2,
                T,
                "the standby's lag to grow past " + (lag0 + 2) + " s");
        assertThat(TwoSites.vol0(later).path("state").asText()).isEqualTo("disconnected");

        // The metrics say the same.
        String metrics = sites.standby.metrics();
        assertThat(metric(metrics, "kagami_volume_state", "state=\"disconnected\""))
            .as("kagami_volume_state{state=disconnected}")
            .isEqualTo(1.0);
        assertThat(metric(metrics, "kagami_rpo_at_risk_seconds", "volume=\"vol0\""))
            .as("kagami_rpo_at_risk_seconds")
            .isGreaterThan(lag0);
        assertThat(metric(metrics, "kagami_primary_last_seq", "volume=\"vol0\""))
            .as("kagami_primary_last_seq")
            .isEqualTo((double) heard);

        // And the operator's CLI, as JSON.
        String standbyAdmin = "127.0.0.1:" + sites.standbyAdmin;
        PromoteIT.Cli status = PromoteIT.cli("status", "--json", "--admin", standbyAdmin);
        assertThat(status.exit()).as(status.output()).isZero();
        JsonNode cliVol = TwoSites.vol0(JSON.readTree(status.output()));
        assertThat(cliVol.path("state").asText()).isEqualTo("disconnected");
        assertThat(cliVol.path("lagSeconds").asDouble()).isGreaterThan(lag0);
        assertThat(cliVol.path("primary").path("lastJournaledSeq").asLong()).isEqualTo(heard);
        PromoteIT.Cli table = PromoteIT.cli("status", "--admin", standbyAdmin);
        assertThat(table.output())
            .as("status table")
            .contains("disconnected")
            .contains("primary last heard");

        // After promote the link names the old primary, not "?".
        PromoteIT.Cli promoted = PromoteIT.cli("promote", "--admin", standbyAdmin);
        assertThat(promoted.exit()).as(promoted.output()).isZero();
        JsonNode after = sites.standby.status();
        assertThat(after.path("role").asText()).isEqualTo("primary");
        assertThat(after.path("link").path("peerSiteId").asText()).isEqualTo("tokyo");
      }
    }
  }

  /** The value of the first sample of {@code name} whose labels contain {@code label}. */
  private static double metric(String scrape, String name, String label) {
    Matcher m = Pattern.compile("(?m)^" + name + "\\{([^}]*)\\} (\\S+)$").matcher(scrape);
    while (m.find()) {
      if (m.group(1).contains(label)) {
        return Double.parseDouble(m.group(2));
      }
    }
    throw new AssertionError("no " + name + "{" + label + "} in the scrape:\n" + scrape);
  }
}
