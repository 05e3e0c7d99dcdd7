package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import eu.rekawek.toxiproxy.model.ToxicDirection;
import io.kagami.clock.SystemTime;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.toxi.Toxiproxies;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * History overflow: with the WAN link down, unsent history outgrows its capacity, the volume falls
 * back to a changed-region map, and once the link is back only those regions are copied; the
 * standby reports itself inconsistent while that runs and ends byte-identical.
 */
class ResyncIT {
  private static final long VOLUME = 64L << 20;
  private static final Duration T = Duration.ofMinutes(2);
  @TempDir Path dir;

  @Test
  void overflowFallsBackToTheBitmapAndTheResyncCopiesOnlyChangedRegions() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    Random rnd = new Random(seed);
    try (Toxiproxies toxi = Toxiproxies.start(seed)) {
      System.out.println("ResyncIT seed=" + seed + " " + toxi);
      try (TwoSites sites =
          TwoSites.throughProxy(
                  dir, VOLUME, "historyCapacity: 4MiB, bitmapGranularity: 64KiB", toxi)
              .start()) {
        try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
          write(c, rnd, 4);
          sites.awaitInSync(T);
          assertThat(state(sites.primary)).isEqualTo("replicating");

          sites.wanProxy.disable(); // the link goes down
          sites.primary.awaitStatus(
              s -> !s.path("link").path("connected").asBoolean(), T, "the link to go down");
          write(c, rnd, 48); // 12 MiB of incompressible writes > 4 MiB capacity
          sites.primary.awaitStatus(
              s -> TwoSites.vol0(s).path("state").asText().equals("bitmap"),
              T,
              "the volume to fall back to the bitmap");
          // Payloads are no longer kept: the next checkpoint trims the history it marked.
          sites.primary.awaitStatus(
              s -> TwoSites.vol0(s).path("lagBytes").asLong() < (4L << 20),
              T,
              "the overflowed history to be trimmed");

          // The link returns, slowly enough to watch the resync.
          sites.wanProxy.toxics().bandwidth("slow", ToxicDirection.UPSTREAM, 2000);
          sites.wanProxy.enable();
          sites.standby.awaitStatus(
              s -> TwoSites.vol0(s).path("state").asText().equals("inconsistent"),
              T,
              "the standby to report itself inconsistent during the resync");
          assertThat(state(sites.primary)).isIn("resyncing", "bitmap");
          toxi.removeToxics(sites.wanProxy);
          write(c, rnd, 2); // writes during and after the resync are replicated too
        }
        sites.awaitInSync(T);
        sites.standby.awaitStatus(
            s -> TwoSites.vol0(s).path("state").asText().equals("replicating"),
            T,
            "the standby to be consistent again");
        sites.primary.awaitStatus(
            s -> TwoSites.vol0(s).path("state").asText().equals("replicating"),
            T,
            "the primary to replicate history again");
        // Only the changed regions were copied: at most the 48 writes' 4 regions each (plus the
        // writes made while the link came back), far below the volume's 1024 regions.
        java.util.regex.Matcher m =
            java.util.regex.Pattern.compile("resync of (\\d+) regions")
                .matcher(sites.primary.log());
        assertThat(m.find())
            .as("the primary logged the resync; log:\n%s", sites.primary.log())
            .isTrue();
        long regions = Long.parseLong(m.group(1));
        System.out.println(
            "ResyncIT: resync copied " + regions + " of " + VOLUME / (64 << 10) + " regions");
        assertThat(regions).isBetween(1L, 48L * 4 + 8);
        sites.assertReplicaIdentical();
      }
    }
  }

  private static String state(SiteProcess site) throws Exception {
    return TwoSites.vol0(site.status()).path("state").asText();
  }

  /** {@code n} writes of 256 KiB of random data at random 64 KiB-aligned offsets. */
  private static void write(NbdTestClient c, Random rnd, int n) throws Exception {
    for (int i = 0; i < n; i++) {
      byte[] data = new byte[256 << 10];
      rnd.nextBytes(data);
      long offset = (long) rnd.nextInt((int) (VOLUME / (64 << 10)) - 4) * (64 << 10);
      c.write(offset, data).get(30, TimeUnit.SECONDS);
    }
  }
}
