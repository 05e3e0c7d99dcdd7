package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
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
 * What each replication mode promises when the primary dies (kill -9, not restarted, as in a real
 * disaster): sync loses no acknowledged write; async leaves the replica a crash-consistent prefix.
 */
class ReplicationModeIT {
  private static final long VOLUME = 64L << 20;
  private static final Duration T = Duration.ofMinutes(3);
  @TempDir Path dir;

  @Test
  void syncModeLosesNoAcknowledgedWriteWhenThePrimaryDies() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("ReplicationModeIT sync seed=" + seed);
    try (Toxiproxies toxi = Toxiproxies.start(seed);
        TwoSites sites = slowLink(toxi, "mode: sync, onSyncTimeout: block").start()) {
      assertThat(TwoSites.vol0(sites.primary.status()).path("mode").asText()).isEqualTo("sync");
      CrashIT.Writer w =
          CrashIT.killPrimaryUnderLoad(sites, seed, 2000 + new Random(seed).nextInt(2000));
      int[] replica = standbyVersions(sites, w);
      for (int block = 0; block < replica.length; block++) {
        assertThat(replica[block])
            .as("block %d: acknowledged version %d is not on the standby", block, w.acked[block])
            .isGreaterThanOrEqualTo(w.acked[block]);
      }
      int n = w.assertPrefix(replica, "sync standby");
      System.out.printf(
          "sync: standby holds the first %d of %d writes sent, %d acknowledged%n",
          n, w.sent.size(), w.ackCount);
    }
  }

  @Test
  void asyncModeLeavesTheReplicaAPrefixOfTheWritesWhenThePrimaryDies() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("ReplicationModeIT async seed=" + seed);
    try (Toxiproxies toxi = Toxiproxies.start(seed);
        TwoSites sites = slowLink(toxi, "mode: async").start()) {
      assertThat(TwoSites.vol0(sites.primary.status()).path("mode").asText()).isEqualTo("async");
      CrashIT.Writer w =
          CrashIT.killPrimaryUnderLoad(sites, seed, 2000 + new Random(seed).nextInt(2000));
      int[] replica = standbyVersions(sites, w);
      int n = w.assertPrefix(replica, "async standby");
      System.out.printf(
          "async: standby holds the first %d of %d writes sent, %d acknowledged%n",
          n, w.sent.size(), w.ackCount);
    }
  }

  @Test
  void syncModeDegradesWhileTheStandbyIsDownAndReturnsOnceCaughtUp() throws Exception {
    try (TwoSites sites =
        TwoSites.withVolumeOptions(
                dir, VOLUME, "mode: sync, syncTimeout: 1s, onSyncTimeout: degrade")
            .start()) {
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        c.write(0, CrashIT.Writer.content(0, 1)).get(30, TimeUnit.SECONDS);
        assertThat(TwoSites.vol0(sites.primary.status()).path("state").asText())
            .isEqualTo("replicating");
        sites.standby.kill9();
        // Acknowledged only once the timeout passed and the volume degraded to async.
        long start = SystemTime.NANO.nanoTime();
        c.write(4096, CrashIT.Writer.content(1, 1)).get(30, TimeUnit.SECONDS);
        assertThat(Duration.ofNanos(SystemTime.NANO.nanoTime() - start))
            .isGreaterThanOrEqualTo(Duration.ofMillis(900));
        JsonNode degraded = TwoSites.vol0(sites.primary.status());
        assertThat(degraded.path("state").asText()).isEqualTo("degraded");
        assertThat(degraded.path("mode").asText()).isEqualTo("sync");
        c.write(8192, CrashIT.Writer.content(2, 1)).get(30, TimeUnit.SECONDS);
        sites.standby.start();
        sites.primary.awaitStatus(
            s -> TwoSites.vol0(s).path("state").asText().equals("replicating"),
            T,
            "sync mode to come back");
        sites.awaitInSync(T);
        try (NbdTestClient r = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
          for (int b = 0; b < 3; b++) {
            assertThat(r.read(b * 4096L, 4096).get(30, TimeUnit.SECONDS))
                .isEqualTo(CrashIT.Writer.content(b, 1));
          }
        }
      }
    }
  }

  /**
   * Two sites whose WAN link adds 20 ms each way: the standby trails the acknowledgements unless
   * the mode waits for it, so a lost acknowledged write would show.
   */
  private TwoSites slowLink(Toxiproxies toxi, String volumeOptions) throws java.io.IOException {
    TwoSites sites = TwoSites.throughProxy(dir, VOLUME, volumeOptions, toxi);
    sites.wanProxy.toxics().latency("delay-up", ToxicDirection.UPSTREAM, 20);
    sites.wanProxy.toxics().latency("delay-down", ToxicDirection.DOWNSTREAM, 20);
    return sites;
  }

  /** Waits until the standby applied all it journaled, then reads every block of its replica. */
  private static int[] standbyVersions(TwoSites sites, CrashIT.Writer w) throws Exception {
    sites.standby.awaitStatus(
        s ->
            TwoSites.vol0(s).path("lastAppliedSeq").asLong()
                >= TwoSites.vol0(s).path("lastJournaledSeq").asLong(),
        T,
        "the standby to apply what it holds");
    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
      return w.versions(c, "standby");
    }
  }
}
