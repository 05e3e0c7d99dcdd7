package io.kagami.site.it;

import static io.kagami.site.it.PromoteIT.cli;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.clock.SystemTime;
import io.kagami.site.it.PromoteIT.Cli;
import io.kagami.testkit.nbd.NbdTestClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Executes {@code docs/runbooks/switchover.md} step by step with the CLI verbs it shows, against
 * two real site processes in sync mode, with a host that keeps writing through the switchover (the
 * worst case the runbook's step 2 avoids): no acknowledged write is lost, the roles and the NBD
 * addresses swap, replication runs the other way, a second switchover brings everything back, and
 * the roles survive restarts.
 */
class SwitchoverIT {
  private static final long VOLUME = 64L << 20;
  private static final Duration T = Duration.ofMinutes(2);
  @TempDir Path dir;

  @Test
  void theRunbookSwapsRolesWithoutLosingAnAcknowledgedWriteAndSwapsBack() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("SwitchoverIT seed=" + seed);
    try (TwoSites sites =
        TwoSites.withVolumeOptions(dir, VOLUME, "mode: sync, onSyncTimeout: block").start()) {
      String tokyo = "127.0.0.1:" + sites.primaryAdmin;
      String hiroshima = "127.0.0.1:" + sites.standbyAdmin;

      // 1. Check that the standby is in step.
      Cli status = cli("status", "--admin", tokyo);
      assertThat(status.exit()).as(status.output()).isZero();
      assertThat(status.output()).contains("replicating");

      // 2.-3. Switch over while a host is still writing: writes are refused from the fence on.
      CrashIT.Writer w = new CrashIT.Writer(seed);
      Thread host =
          Thread.ofPlatform()
              .start(
                  () -> {
                    try (NbdTestClient c =
                        NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
                      w.run(c, Long.MAX_VALUE, Long.MAX_VALUE, () -> {});
                    } catch (Exception e) {
                      throw new IllegalStateException(e);
                    }
                  });
      awaitAcks(w, 500);
      long start = SystemTime.NANO.nanoTime();
      Cli switched = cli("switchover", "--admin", tokyo);
      long millis = (SystemTime.NANO.nanoTime() - start) / 1_000_000;
      w.stop();
      host.join(T.toMillis());
      assertThat(switched.exit()).as(switched.output()).isZero();
      assertThat(switched.output())
          .contains("switchover done")
          .contains("hiroshima is the primary, tokyo its standby");
      System.out.printf(
          "SwitchoverIT: switchover command took %d ms (JVM start included), %d writes acknowledged before it%n",
          millis, w.ackCount);

      // 4. The new roles.
      Cli newPrimary = cli("status", "--admin", hiroshima);
      assertThat(newPrimary.output()).contains("primary");
      assertThat(sites.standby.status().path("role").asText()).isEqualTo("primary");
      assertThat(sites.primary.status().path("role").asText()).isEqualTo("standby");

      // 5. Hosts reattach to the new primary: every acknowledged write is there; the old address is
      // read-only.
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
        assertThat(c.isReadOnly()).isFalse();
        int[] versions = w.versions(c, "new primary");
        for (int block = 0; block < versions.length; block++) {
          assertThat(versions[block])
              .as("block %d: acknowledged version %d lost in the switchover", block, w.acked[block])
              .isGreaterThanOrEqualTo(w.acked[block]);
        }
        for (int block = 0; block < 64; block++) {
          c.write((long) block * 4096, CrashIT.Writer.content(block, 1_000_000))
              .get(30, TimeUnit.SECONDS);
        }
        c.flush().get(30, TimeUnit.SECONDS);
      }
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        assertThat(c.isReadOnly()).isTrue();
        assertThatThrownBy(() -> c.write(0, new byte[4096]).get(30, TimeUnit.SECONDS))
            .isInstanceOf(ExecutionException.class);
      }
      // Replication runs the other way: the old primary receives and applies the new writes.
      awaitReplicated(sites.standby, sites.primary);
      sites.assertReplicaIdentical();
      assertThat(sites.primary.log()).contains("SWITCHOVER done");
      assertThat(sites.standby.log()).contains("took over from tokyo");

      // 6. Switching back.
      Cli back = cli("switchover", "--admin", hiroshima);
      assertThat(back.exit()).as(back.output()).isZero();
      assertThat(back.output()).contains("tokyo is the primary, hiroshima its standby");
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        assertThat(c.read(0, 4096).get(30, TimeUnit.SECONDS))
            .isEqualTo(CrashIT.Writer.content(0, 1_000_000));
        c.write(0, CrashIT.Writer.content(0, 2_000_000)).get(30, TimeUnit.SECONDS);
      }
      awaitReplicated(sites.primary, sites.standby);

      // Roles survive restarts (hiroshima's is recorded; tokyo's too, back to its configured role).
      sites.standby.stop();
      sites.primary.stop();
      sites.standby.start();
      sites.primary.start();
      sites.primary.awaitStatus(
          s -> s.path("link").path("connected").asBoolean(),
          T,
          "the WAN link to reconnect after restarts");
      assertThat(sites.primary.status().path("role").asText()).isEqualTo("primary");
      assertThat(sites.standby.status().path("role").asText()).isEqualTo("standby");
      sites.assertReplicaIdentical();

      // A switchover against a standby is refused with the reason, and changes nothing.
      Cli wrong = cli("switchover", "--admin", hiroshima);
      assertThat(wrong.exit()).isNotZero();
      assertThat(wrong.output()).contains("run switchover against the primary");
    }
  }

  private static void awaitAcks(CrashIT.Writer w, long acks) throws InterruptedException {
    // Woken by every acknowledgement (the writer notifies), not by polling.
    if (!w.awaitAcks(acks, T)) {
      synchronized (w) {
        throw new AssertionError(
            "the host got only " + w.ackCount + " writes acknowledged within " + T);
      }
    }
  }

  /** Waits (bounded) until {@code to} applied everything {@code from} journaled. */
  static void awaitReplicated(SiteProcess from, SiteProcess to) throws Exception {
    long target = TwoSites.vol0(from.status()).path("lastJournaledSeq").asLong();
    from.awaitStatus(
        s ->
            TwoSites.vol0(s).path("lagBytes").asLong() == 0
                && TwoSites.vol0(s).path("lastAckedByPeerSeq").asLong() >= target,
        T,
        "lag 0 at seq " + target);
    to.awaitStatus(
        s -> TwoSites.vol0(s).path("lastAppliedSeq").asLong() >= target,
        T,
        "applied through seq " + target);
  }
}
