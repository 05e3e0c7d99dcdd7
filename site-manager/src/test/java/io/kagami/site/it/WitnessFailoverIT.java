package io.kagami.site.it;

import static io.kagami.site.it.WitnessedPair.LEASE;
import static io.kagami.site.it.WitnessedPair.MARGIN;
import static io.kagami.site.it.WitnessedPair.PEER_LOST_AFTER;
import static io.kagami.site.it.WitnessedPair.SELF_FENCE_AFTER;
import static io.kagami.site.it.WitnessedPair.acceptsWrites;
import static io.kagami.site.it.WitnessedPair.failover;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.clock.SystemTime;
import io.kagami.site.it.AutoFailoverIT.SplitBrainProbe;
import io.kagami.site.it.AutoFailoverIT.Writer;
import io.kagami.testkit.toxi.Toxiproxies;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Automatic failover when the witness itself fails, real processes throughout (see {@link
 * WitnessedPair}): the built-in witness killed with kill -9 and restarted from its state file
 * mid-run, and a three-member etcd cluster that loses a member mid-run. In both, the pair keeps
 * working, then an isolated primary fences itself and the standby is promoted exactly once, with no
 * instant at which both acknowledge writes.
 */
class WitnessFailoverIT {
  private static final long VOLUME = 16L << 20;
  private static final String GROUP = "hiroshima+tokyo";
  private static final Duration FAILOVER_BOUND =
      PEER_LOST_AFTER.plus(LEASE).plus(MARGIN).plus(Duration.ofSeconds(20));

  /** Past the point where a standby that had been granted the lease would have promoted. */
  private static final Duration QUIET =
      PEER_LOST_AFTER.plus(LEASE).plus(MARGIN).plus(Duration.ofSeconds(2));

  @TempDir Path dir;

  @Test
  void theBuiltInWitnessKilledAndRestartedHonoursTheLeaseItGrantedAndFailoverHappensOnce()
      throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    try (Toxiproxies toxi = Toxiproxies.start(seed);
        WitnessedPair pair = new WitnessedPair(dir, toxi, VOLUME, "").start();
        Writer old = new Writer("tokyo", pair.primaryNbd).start();
        Writer fresh = new Writer("hiroshima", pair.standbyNbd).start();
        SplitBrainProbe probe = new SplitBrainProbe(pair).start()) {
      System.out.println("WitnessFailoverIT seed=" + seed + " " + toxi);
      old.awaitAcks(20, Duration.ofSeconds(30));

      // The standby loses the primary (it will ask the witness for the lease from now on) and the
      // witness dies mid-run, kill -9, and comes back on the same port from its state file.
      pair.cutBetweenSites();
      pair.killWitness();
      long killed = SystemTime.NANO.nanoTime();
      pair.startWitness();
      long restarted = SystemTime.NANO.nanoTime();
      JsonNode remembered = pair.witnessStatus().path("groups").path(GROUP);
      System.out.printf(
          "WitnessFailoverIT: witness restarted %d ms after kill -9; it remembers %s%n",
          (restarted - killed) / 1_000_000, remembered);
      assertThat(remembered.path("holder").asText())
          .as("the restarted witness's memory of the lease it granted: %s", remembered)
          .isEqualTo("tokyo");
      assertThat(remembered.path("term").asLong()).isEqualTo(1);

      // The holder renews at once: it writes again well before an amnesiac witness's quiet period
      // (lease + margin) would have let anybody renew.
      Writer.Outcome firstAfter =
          old.awaitFirst(o -> o.ok() && o.startNanos() > restarted, Duration.ofSeconds(30));
      long resumedMs = (firstAfter.endNanos() - restarted) / 1_000_000;
      pair.primary.awaitStatus(
          s -> acceptsWrites(s), Duration.ofSeconds(30), "the primary to write again");
      // Cut off from its standby and with the witness down, the primary has no lease evidence:
      // it fences itself after selfFenceAfter, and the restarted witness's renewal unfences it.
      System.out.printf(
          "WitnessFailoverIT: primary acknowledged a write %d ms after the witness restart; %d writes refused (fenced) between the kill and then%n",
          resumedMs,
          old.outcomesBetween(killed, firstAfter.endNanos()).stream().filter(o -> !o.ok()).count());
      assertThat(resumedMs)
          .as("the holder renewed at the restarted witness before lease + margin")
          .isLessThan(LEASE.plus(MARGIN).toMillis());

      // The standby keeps asking throughout; the witness honours the holder's grant: no takeover.
      long quietEnd = SystemTime.NANO.nanoTime() + QUIET.toNanos();
      while (SystemTime.NANO.nanoTime() < quietEnd) {
        JsonNode s = pair.standby.status();
        assertThat(acceptsWrites(s))
            .as("the standby took over while the primary held the restarted witness's lease: " + s)
            .isFalse();
        SystemTime.pause(Duration.ofMillis(100).toNanos(), TimeUnit.NANOSECONDS);
      }
      assertThat(failover(pair.standby.status()).path("lastAction").asText())
          .as("the standby asked and was refused")
          .contains("claim refused");
      assertThat(old.lastAckEndNanos()).isGreaterThan(quietEnd - QUIET.toNanos() / 2);

      // Now the primary is isolated from the witness too: it fences, the standby is promoted once.
      isolatePrimaryAndExpectOneFailover(pair, old, fresh, probe);

      // The new grant survives another kill -9 of the witness.
      pair.killWitness();
      pair.startWitness();
      JsonNode after = pair.witnessStatus().path("groups").path(GROUP);
      assertThat(after.path("holder").asText()).as(after.toString()).isEqualTo("hiroshima");
      assertThat(after.path("term").asLong()).isEqualTo(2);
    }
  }

  @Test
  void anEtcdClusterLosingAMemberKeepsThePairWorkingAndFailoverHappensOnce() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    try (Toxiproxies toxi = Toxiproxies.start(seed);
        WitnessedPair pair =
            new WitnessedPair(dir, toxi, VOLUME, "", WitnessedPair.Kind.ETCD).start();
        Writer old = new Writer("tokyo", pair.primaryNbd).start();
        Writer fresh = new Writer("hiroshima", pair.standbyNbd).start();
        SplitBrainProbe probe = new SplitBrainProbe(pair).start()) {
      System.out.println("WitnessFailoverIT seed=" + seed + " " + toxi);
      old.awaitAcks(20, Duration.ofSeconds(30));
      JsonNode w = failover(pair.primary.status()).path("witness");
      assertThat(w.toString()).contains("etcd http://127.0.0.1:");

      int victim = Math.floorMod(seed, 3);
      pair.etcd.kill(victim);
      long killed = SystemTime.NANO.nanoTime();
      System.out.printf("WitnessFailoverIT: killed etcd member m%d (kill -9)%n", victim);
      // Through the loss: the primary keeps (or at once regains) its lease and keeps writing.
      long watchEnd = killed + QUIET.toNanos();
      int fencedRounds = 0;
      int rounds = 0;
      while (SystemTime.NANO.nanoTime() < watchEnd) {
        JsonNode p = pair.primary.status();
        JsonNode s = pair.standby.status();
        rounds++;
        if (!acceptsWrites(p)) {
          fencedRounds++;
        }
        assertThat(acceptsWrites(s)).as("the standby took over: " + s).isFalse();
        SystemTime.pause(Duration.ofMillis(100).toNanos(), TimeUnit.NANOSECONDS);
      }
      Writer.Outcome late =
          old.awaitFirst(o -> o.ok() && o.startNanos() > watchEnd, Duration.ofSeconds(30));
      long longestGapMs = longestAckGapMs(old, killed, watchEnd);
      System.out.printf(
          "WitnessFailoverIT: after the member kill: primary fenced in %d of %d status rounds, longest gap between acknowledged writes %d ms%n",
          fencedRounds, rounds, longestGapMs);
      assertThat(late.ok()).isTrue();
      assertThat(longestGapMs)
          .as("the primary stopped writing for longer than the lease after one etcd member died")
          .isLessThan(LEASE.toMillis());

      isolatePrimaryAndExpectOneFailover(pair, old, fresh, probe);
    }
  }

  @Test
  void aDamagedStateFileStopsTheWitnessWithAMessageNamingIt() throws Exception {
    Path data = dir.resolve("witness");
    java.nio.file.Files.createDirectories(data);
    Path state = data.resolve("witness-leases");
    // a record torn in the middle of a line (no checksum line)
    java.nio.file.Files.writeString(state, "kagami-witness-leases 1\nlease hiroshima%2Btokyo tok");
    Process p =
        new ProcessBuilder(
                ProcessHandle.current().info().command().orElse("java"),
                "-cp",
                System.getProperty("java.class.path"),
                "io.kagami.site.cli.Main",
                "witness",
                "--listen",
                "127.0.0.1:" + io.kagami.testkit.net.FreePorts.loopbackPort(),
                "--data-dir",
                data.toString())
            .redirectErrorStream(true)
            .start();
    String out =
        new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("the witness exits").isTrue();
    assertThat(p.exitValue()).as(out).isEqualTo(2);
    assertThat(out)
        .contains("witness state file " + state.toAbsolutePath())
        .contains("is damaged")
        .contains("refusing to start");
    assertThat(java.nio.file.Files.readString(state))
        .as("the damaged file is left for the operator, not replaced")
        .endsWith(" tok");
  }

  /** Longest time between consecutive acknowledged writes that ended in [from, to]. */
  private static long longestAckGapMs(Writer w, long from, long to) {
    long prev = from;
    long worst = 0;
    for (Writer.Outcome o : w.outcomesBetween(from, to)) {
      if (o.ok()) {
        worst = Math.max(worst, o.endNanos() - prev);
        prev = o.endNanos();
      }
    }
    return Math.max(worst, to - prev) / 1_000_000;
  }

  /**
   * Cuts the primary off from the standby and the witness: the primary must stop acknowledging
   * within selfFenceAfter + a check interval, the standby must be promoted exactly once at a higher
   * term, and the old primary's last acknowledged write must end before the new primary's first.
   */
  private static void isolatePrimaryAndExpectOneFailover(
      WitnessedPair pair, Writer old, Writer fresh, SplitBrainProbe probe) throws Exception {
    long checkMs = failover(pair.primary.status()).path("checkIntervalMillis").asLong();
    long termBefore = failover(pair.primary.status()).path("term").asLong();
    pair.cutWitness("tokyo");
    pair.cutBetweenSites();
    long cut = SystemTime.NANO.nanoTime();
    Writer.Outcome refused =
        old.awaitFirst(o -> !o.ok() && o.startNanos() > cut, Duration.ofSeconds(30));
    long lastAckMs = (old.lastAckEndNanos() - cut) / 1_000_000;
    long bound = SELF_FENCE_AFTER.toMillis() + checkMs;
    assertThat(lastAckMs)
        .as(
            "the isolated primary acknowledged a write %d ms after the cut (bound %d ms)",
            lastAckMs, bound)
        .isLessThanOrEqualTo(bound);
    JsonNode promoted =
        pair.standby.awaitStatus(
            s -> acceptsWrites(s), FAILOVER_BOUND, "the standby promoted through the witness");
    Writer.Outcome firstNew = fresh.awaitFirst(o -> o.ok(), Duration.ofSeconds(30));
    System.out.printf(
        "WitnessFailoverIT: isolated primary (%s witness): last write acknowledged %d ms after the cut, first refused %d ms after (bound %d ms); standby promoted at term %d, first write on it acknowledged %d ms after the cut%n",
        pair.kind,
        lastAckMs,
        (refused.endNanos() - cut) / 1_000_000,
        bound,
        failover(promoted).path("term").asLong(),
        (firstNew.endNanos() - cut) / 1_000_000);
    assertThat(failover(promoted).path("term").asLong()).isGreaterThan(termBefore);
    assertThat(old.lastAckEndNanos())
        .as("the old primary acknowledged a write after the new primary took its first")
        .isLessThan(firstNew.startNanos());
    // Exactly once: past the point where a second promotion could happen, one is logged.
    long settle = SystemTime.NANO.nanoTime() + LEASE.plus(MARGIN).toNanos();
    while (SystemTime.NANO.nanoTime() < settle) {
      SystemTime.pause(Duration.ofMillis(100).toNanos(), TimeUnit.NANOSECONDS);
    }
    String log = pair.standby.log();
    log.lines()
        .filter(l -> l.contains("claim") || l.contains("AUTOMATIC") || l.contains("peer lost"))
        .limit(40)
        .forEach(l -> System.out.println("WitnessFailoverIT: standby: " + l));
    int promotions = log.split("AUTOMATIC FAILOVER: promoted", -1).length - 1;
    assertThat(promotions).as("promotions logged by the standby").isEqualTo(1);
    assertThat(pair.primary.log()).doesNotContain("AUTOMATIC FAILOVER: promoted");
    JsonNode isolated = pair.primary.status();
    assertThat(failover(isolated).path("fenced").asBoolean())
        .as("old primary still fenced: " + isolated)
        .isTrue();
    probe.assertNeverBoth();
  }
}
