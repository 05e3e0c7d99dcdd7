package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.failover.witness.LeaseReply;
import io.kagami.site.config.EtcdWitnessSettings;
import io.kagami.site.witness.etcd.EtcdWitnessClient;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The etcd lease service against a real three-member etcd cluster: compare-and-set claims (of sites
 * claiming at once exactly one wins), terms that only go up, a lease that runs out when its holder
 * stops renewing, release, and renewals that go on through kill -9 of a member.
 */
class EtcdWitnessIT {
  private static final Duration LEASE = Duration.ofSeconds(2);
  private static final Duration TIMEOUT = Duration.ofSeconds(2);

  @TempDir Path dir;

  private static EtcdWitnessClient client(EtcdCluster etcd) {
    return new EtcdWitnessClient(
        new EtcdWitnessSettings(etcd.clientUrls().stream().map(URI::create).toList(), "/kagami/it"),
        LEASE,
        TIMEOUT);
  }

  @Test
  void claimsAreCompareAndSetLeasesRunOutAndRenewalsSurviveAMemberKill() throws Exception {
    try (EtcdCluster etcd = new EtcdCluster(dir, 3).start(Duration.ofSeconds(60));
        EtcdWitnessClient tokyo = client(etcd);
        EtcdWitnessClient hiroshima = client(etcd);
        EtcdWitnessClient osaka = client(etcd)) {
      // Three sites claim the same group at once, many rounds: exactly one wins each time.
      for (int round = 0; round < 5; round++) {
        String group = "race" + round;
        List<CompletableFuture<LeaseReply>> claims = new ArrayList<>();
        claims.add(tokyo.claimAsync(group, "tokyo", 0));
        claims.add(hiroshima.claimAsync(group, "hiroshima", 0));
        claims.add(osaka.claimAsync(group, "osaka", 0));
        List<LeaseReply> replies = new ArrayList<>();
        for (CompletableFuture<LeaseReply> c : claims) {
          replies.add(c.get(30, TimeUnit.SECONDS));
        }
        assertThat(replies.stream().filter(LeaseReply::granted).count())
            .as("granted claims in round %d: %s", round, replies)
            .isEqualTo(1);
        LeaseReply winner = replies.stream().filter(LeaseReply::granted).findFirst().orElseThrow();
        assertThat(winner.term()).isEqualTo(1);
      }

      LeaseReply first = tokyo.claimAsync("g", "tokyo", 4).get(30, TimeUnit.SECONDS);
      assertThat(first.granted()).as(first.reason()).isTrue();
      assertThat(first.term()).as("above the term the site knew").isEqualTo(5);
      assertThat(first.leaseMillis()).isEqualTo(2_000);
      LeaseReply refused = hiroshima.claimAsync("g", "hiroshima", 5).get(30, TimeUnit.SECONDS);
      assertThat(refused.granted()).isFalse();
      assertThat(refused.holder()).isEqualTo("tokyo");
      assertThat(hiroshima.renewAsync("g", "hiroshima", 5).get(30, TimeUnit.SECONDS).granted())
          .as("a renewal by a site that does not hold the lease")
          .isFalse();

      // One member killed: the holder's renewals keep being granted, within the lease each time.
      etcd.kill(0);
      long killed = SystemTime.NANO.nanoTime();
      int granted = 0;
      long worstMs = 0;
      for (int i = 0; i < 20; i++) {
        long sent = SystemTime.NANO.nanoTime();
        LeaseReply r;
        try {
          r = tokyo.renewAsync("g", "tokyo", 5).get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
          System.out.println(
              "EtcdWitnessIT: renewal "
                  + i
                  + " failed after "
                  + (SystemTime.NANO.nanoTime() - sent) / 1_000_000
                  + " ms: "
                  + e.getCause());
          continue;
        }
        long ms = (SystemTime.NANO.nanoTime() - sent) / 1_000_000;
        System.out.println("EtcdWitnessIT: renewal " + i + " " + r.granted() + " in " + ms + " ms");
        worstMs = Math.max(worstMs, ms);
        assertThat(r.granted()).as("renewal %d after the member kill: %s", i, r.reason()).isTrue();
        granted++;
        SystemTime.pause(Duration.ofMillis(200).toNanos(), TimeUnit.NANOSECONDS);
      }
      System.out.printf(
          "EtcdWitnessIT: %d renewals granted in the %d ms after kill -9 of one member of three; slowest %d ms%n",
          granted, (SystemTime.NANO.nanoTime() - killed) / 1_000_000, worstMs);
      assertThat(hiroshima.claimAsync("g", "hiroshima", 5).get(30, TimeUnit.SECONDS).granted())
          .as("claimed while the holder renews")
          .isFalse();

      // The holder stops renewing: its etcd lease runs out, and the next claim gets a higher term.
      long stopped = SystemTime.NANO.nanoTime();
      LeaseReply taken = null;
      long deadline = stopped + Duration.ofSeconds(30).toNanos();
      while (SystemTime.NANO.nanoTime() < deadline) {
        taken = hiroshima.claimAsync("g", "hiroshima", 5).get(30, TimeUnit.SECONDS);
        if (taken.granted()) {
          break;
        }
        SystemTime.pause(Duration.ofMillis(100).toNanos(), TimeUnit.NANOSECONDS);
      }
      long tookMs = (SystemTime.NANO.nanoTime() - stopped) / 1_000_000;
      System.out.printf(
          "EtcdWitnessIT: claim granted %d ms after the holder's last renewal (TTL %d s)%n",
          tookMs, tokyo.ttlSeconds());
      assertThat(taken).isNotNull();
      assertThat(taken.granted()).as(taken.reason()).isTrue();
      assertThat(taken.term()).isEqualTo(6);
      assertThat(tookMs)
          .as("the old holder's lease was honoured for at least the lease")
          .isGreaterThanOrEqualTo(LEASE.toMillis() - 250);
      assertThat(tokyo.renewAsync("g", "tokyo", 5).get(30, TimeUnit.SECONDS).granted())
          .as("the old holder renewing after losing the lease")
          .isFalse();

      // Release frees the group at once.
      LeaseReply released = hiroshima.releaseAsync("g", "hiroshima", 6).get(30, TimeUnit.SECONDS);
      assertThat(released.granted()).as(released.reason()).isTrue();
      LeaseReply again = tokyo.claimAsync("g", "tokyo", 0).get(30, TimeUnit.SECONDS);
      assertThat(again.granted()).as(again.reason()).isTrue();
      assertThat(again.term()).as("terms never go back").isEqualTo(7);
    }
  }

  @Test
  void anUnreachableClusterIsNoAnswerWithinTheTimeoutNotAGrant() throws Exception {
    int port = io.kagami.testkit.net.FreePorts.loopbackPort();
    try (EtcdWitnessClient c =
        new EtcdWitnessClient(
            new EtcdWitnessSettings(List.of(URI.create("http://127.0.0.1:" + port)), "/kagami"),
            LEASE,
            Duration.ofMillis(500))) {
      long t = SystemTime.NANO.nanoTime();
      CompletableFuture<LeaseReply> f = c.claimAsync("g", "tokyo", 0);
      Throwable failure = null;
      try {
        f.get(30, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        failure = e.getCause();
      }
      long ms = (SystemTime.NANO.nanoTime() - t) / 1_000_000;
      assertThat(failure).isInstanceOf(java.io.IOException.class);
      assertThat(failure.getMessage()).contains("etcd http://127.0.0.1:" + port);
      assertThat(ms).as("bounded by the request timeout").isLessThan(5_000);
    }
  }
}
