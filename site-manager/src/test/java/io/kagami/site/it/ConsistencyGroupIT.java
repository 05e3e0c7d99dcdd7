package io.kagami.site.it;

import static io.kagami.site.it.PromoteIT.cli;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import eu.rekawek.toxiproxy.model.ToxicDirection;
import io.kagami.clock.SystemTime;
import io.kagami.site.it.PromoteIT.Cli;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.toxi.Toxiproxies;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A database's data and log volumes in one consistency group: a host writes log record i, then data
 * block i, each after the previous was acknowledged, to the two exports. The primary dies (kill -9)
 * while the standby lags behind a slow link (async), the standby is promoted, and what it holds
 * across both volumes is the state after one prefix of that order: data block i never without log
 * record i, and no log record more than one ahead of the data.
 */
class ConsistencyGroupIT {
  private static final long DATA = 16L << 20;
  private static final long LOG = 4L << 20;
  private static final int SLOT = 4096;
  private static final Duration T = Duration.ofMinutes(2);
  @TempDir Path dir;

  private static byte[] record(int i) {
    ByteBuffer b = ByteBuffer.allocate(SLOT);
    while (b.hasRemaining()) {
      b.putInt(i);
    }
    return b.array();
  }

  @Test
  void thePromotedStandbyHoldsBothMembersAtOnePointOfTheirSharedOrder() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("ConsistencyGroupIT seed=" + seed);
    int pairs = 300 + new Random(seed).nextInt(400); // fewer than either volume's slots: no wrap
    String volumes =
        "{name: db, members: [{name: db-data, size: %d}, {name: db-log, size: %d}]}"
            .formatted(DATA, LOG);
    try (Toxiproxies toxi = Toxiproxies.start(seed);
        TwoSites sites = TwoSites.withVolumes(dir, volumes, toxi).start()) {
      // Both members are exported under their own names and sizes; the group itself is not.
      try (NbdTestClient data = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "db-data");
          NbdTestClient log = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "db-log")) {
        assertThat(data.exportSize()).isEqualTo(DATA);
        assertThat(log.exportSize()).isEqualTo(LOG);
        assertThatThrownBy(() -> NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "db").close())
            .isInstanceOf(java.io.IOException.class);
        // The standby falls behind: each batch waits 30 ms on the link.
        sites.wanProxy.toxics().latency("slow", ToxicDirection.DOWNSTREAM, 30);
        for (int i = 1; i <= pairs; i++) {
          log.write((long) i * SLOT, record(i)).get(30, TimeUnit.SECONDS);
          data.write((long) i * SLOT, record(i)).get(30, TimeUnit.SECONDS);
        }
        sites.primary.kill9();
      } catch (java.io.IOException closedByTheKill) {
        // the connections die with the primary
      }
      Cli promoted = cli("promote", "--admin", "127.0.0.1:" + sites.standbyAdmin);
      assertThat(promoted.exit()).as(promoted.output()).isZero();

      int logs = highest(sites.standbyNbd, "db-log", pairs);
      int datas = highest(sites.standbyNbd, "db-data", pairs);
      System.out.printf(
          "ConsistencyGroupIT: %d pairs written; the promoted standby holds log 1..%d and data 1..%d%n",
          pairs, logs, datas);
      assertThat(datas).as("data block %d without its log record", datas).isLessThanOrEqualTo(logs);
      assertThat(logs)
          .as("log records ahead of the data by more than the one write in between")
          .isLessThanOrEqualTo(datas + 1);
      assertThat(sites.standby.status().path("volumes")).hasSize(1);
      assertThat(TwoSites.vol0(sites.standby.status()).path("name").asText()).isEqualTo("db");
    }
  }

  /**
   * The highest i whose record is in slot i, checking that every slot below holds its own and none
   * above.
   */
  private static int highest(int port, String export, int pairs) throws Exception {
    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", port, export)) {
      int top = 0;
      for (int i = 1; i <= pairs; i++) {
        byte[] got = c.read((long) i * SLOT, SLOT).get(30, TimeUnit.SECONDS);
        if (java.util.Arrays.equals(got, record(i))) {
          assertThat(top)
              .as("%s: slot %d present after a missing slot %d", export, i, top + 1)
              .isEqualTo(i - 1);
          top = i;
        } else {
          assertThat(got)
              .as("%s: slot %d is neither empty nor record %d", export, i, i)
              .isEqualTo(new byte[SLOT]);
        }
      }
      return top;
    }
  }
}
