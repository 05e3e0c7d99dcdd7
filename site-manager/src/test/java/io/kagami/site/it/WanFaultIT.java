package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import eu.rekawek.toxiproxy.Proxy;
import eu.rekawek.toxiproxy.model.ToxicDirection;
import io.kagami.clock.SystemTime;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.toxi.Toxiproxies;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The WAN link through a Toxiproxy: every toxic alone, then random sequences of them (printed
 * seed), each while the host keeps writing. Replication must keep going or resume on its own, the
 * replica must end byte-identical, and a mere disconnect must never cost a copy of regions.
 */
class WanFaultIT {
  private static final long VOLUME = 32L << 20;
  private static final Duration T = Duration.ofMinutes(2);
  @TempDir Path dir;

  /** One fault: installs toxics on the link. */
  private interface Fault {
    void apply(Proxy wan) throws IOException;
  }

  private record Named(String name, Fault fault) {}

  private static List<Named> faults(Random rnd) {
    ToxicDirection dir = rnd.nextBoolean() ? ToxicDirection.UPSTREAM : ToxicDirection.DOWNSTREAM;
    return List.of(
        new Named(
            "latency 30±10 ms " + dir, w -> w.toxics().latency("latency", dir, 30).setJitter(10)),
        new Named(
            "bandwidth 500 KB/s upstream",
            w -> w.toxics().bandwidth("bandwidth", ToxicDirection.UPSTREAM, 500)),
        new Named("slow_close 500 ms " + dir, w -> w.toxics().slowClose("slow_close", dir, 500)),
        new Named("timeout 300 ms " + dir, w -> w.toxics().timeout("timeout", dir, 300)),
        new Named(
            "reset_peer after 200 ms " + dir, w -> w.toxics().resetPeer("reset_peer", dir, 200)),
        new Named(
            "slicer 64±32 B " + dir,
            w -> w.toxics().slicer("slicer", dir, 64, 0).setSizeVariation(32)),
        new Named(
            "limit_data 256 KiB upstream",
            w -> w.toxics().limitData("limit_data", ToxicDirection.UPSTREAM, 256 << 10)));
  }

  @Test
  void replicationSurvivesEveryToxicAloneAndInRandomSequences() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    Random rnd = new Random(seed);
    try (Toxiproxies toxi = Toxiproxies.start(seed)) {
      System.out.println("WanFaultIT seed=" + seed + " " + toxi);
      try (TwoSites sites = TwoSites.throughProxy(dir, VOLUME, "mode: async", toxi).start();
          NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        List<String> schedule = new ArrayList<>();
        List<Named> all = faults(rnd);
        for (Named f : all) {
          schedule.add(f.name());
          round(sites, toxi, sites.wanProxy, c, rnd, List.of(f));
        }
        for (int i = 0; i < 4; i++) {
          List<Named> mix = new ArrayList<>();
          int n = 2 + rnd.nextInt(2);
          List<Named> pool = new ArrayList<>(faults(rnd));
          for (int k = 0; k < n; k++) {
            mix.add(pool.remove(rnd.nextInt(pool.size())));
          }
          schedule.add(mix.stream().map(Named::name).toList().toString());
          round(sites, toxi, sites.wanProxy, c, rnd, mix);
        }
        System.out.println("WanFaultIT schedule: " + schedule);
        String log = sites.primary.log();
        assertThat(log)
            .as("a disconnect never needs a copy of regions")
            .doesNotContain("resync of")
            .doesNotContain("copying the whole volume");
        assertThat(TwoSites.vol0(sites.primary.status()).path("resumedFromSeq").asLong())
            .as("resumed after its durable point")
            .isPositive();
        sites.assertReplicaIdentical();
      }
    }
  }

  /** Toxics on, writes through them, toxics off, and the standby catches up with everything. */
  private static void round(
      TwoSites sites, Toxiproxies toxi, Proxy wan, NbdTestClient c, Random rnd, List<Named> faults)
      throws Exception {
    for (Named f : faults) {
      f.fault().apply(wan);
    }
    for (int i = 0; i < 24; i++) {
      byte[] data = new byte[(4 + rnd.nextInt(60)) << 10];
      rnd.nextBytes(data);
      long offset = (long) rnd.nextInt((int) ((VOLUME - data.length) / 4096)) * 4096;
      c.write(offset, data).get(30, TimeUnit.SECONDS);
    }
    toxi.removeToxics(wan);
    sites.awaitInSync(T);
  }
}
