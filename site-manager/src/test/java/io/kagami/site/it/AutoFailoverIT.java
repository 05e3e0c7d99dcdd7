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
import io.kagami.testkit.nbd.NbdErrorException;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.toxi.Toxiproxies;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Automatic failover with a witness, three real processes, every path through a proxy (see {@link
 * WitnessedPair}): a partition that isolates the primary, one that isolates the standby,
 * maintenance mode across a kill -9, and a fence agent that fails, then succeeds. Writers against
 * both NBD addresses run throughout; no write may be acknowledged by the old primary after the new
 * one acknowledged its first.
 */
class AutoFailoverIT {
  private static final long VOLUME = 16L << 20;

  /** Long enough for the standby to claim and be granted the lease, with room for slow machines. */
  private static final Duration FAILOVER_BOUND =
      PEER_LOST_AFTER.plus(LEASE).plus(MARGIN).plus(Duration.ofSeconds(20));

  /** How long "nothing happens" is watched: past the point where a failover would have happened. */
  private static final Duration QUIET =
      PEER_LOST_AFTER.plus(LEASE).plus(MARGIN).plus(Duration.ofSeconds(2));

  @TempDir Path dir;

  @Test
  void anIsolatedPrimaryFencesItselfInTimeAndTheWitnessPromotesTheStandby() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    try (Toxiproxies toxi = Toxiproxies.start(seed);
        WitnessedPair pair = new WitnessedPair(dir, toxi, VOLUME, "").start();
        Writer old = new Writer("tokyo", pair.primaryNbd).start();
        Writer fresh = new Writer("hiroshima", pair.standbyNbd).start();
        SplitBrainProbe probe = new SplitBrainProbe(pair).start()) {
      System.out.println("AutoFailoverIT seed=" + seed + " " + toxi);
      old.awaitAcks(20, Duration.ofSeconds(30));
      long checkMs = failover(pair.primary.status()).path("checkIntervalMillis").asLong();

      pair.tokyoWitness.disable();
      pair.cutBetweenSites();
      // Isolated from here on: no lease evidence can reach the primary after this instant.
      long cut = SystemTime.NANO.nanoTime();

      Writer.Outcome refused =
          old.awaitFirst(o -> !o.ok() && o.startNanos() > cut, Duration.ofSeconds(30));
      long lastAckMs = (old.lastAckEndNanos() - cut) / 1_000_000;
      long refusedMs = (refused.endNanos() - cut) / 1_000_000;
      long bound = SELF_FENCE_AFTER.toMillis() + checkMs;
      System.out.printf(
          "AutoFailoverIT: isolated primary: last write acknowledged %d ms after the cut, first refused %d ms after (selfFenceAfter %d ms + check interval %d ms = %d ms): %s%n",
          lastAckMs, refusedMs, SELF_FENCE_AFTER.toMillis(), checkMs, bound, refused.error());
      assertThat(lastAckMs)
          .as(
              "the isolated primary acknowledged a write %d ms after it lost standby and witness (bound %d ms)",
              lastAckMs, bound)
          .isLessThanOrEqualTo(bound);
      assertThat(refusedMs)
          .as("first refused write on the isolated primary")
          .isLessThanOrEqualTo(bound + 250);
      assertThat(refused.error()).as("the refusal an NBD host sees").contains("EIO");
      assertThat(failover(pair.primary.status()).path("fencedReason").asText())
          .contains("lease evidence ran out");

      JsonNode promoted =
          pair.standby.awaitStatus(
              s -> acceptsWrites(s), FAILOVER_BOUND, "the standby promoted by the witness");
      Writer.Outcome firstNew = fresh.awaitFirst(o -> o.ok(), Duration.ofSeconds(30));
      System.out.printf(
          "AutoFailoverIT: standby promoted at term %d; first write on it acknowledged %d ms after the cut%n",
          failover(promoted).path("term").asLong(), (firstNew.endNanos() - cut) / 1_000_000);
      assertThat(failover(promoted).path("term").asLong())
          .as("the witness's new term")
          .isGreaterThan(1);
      assertThat(old.lastAckEndNanos())
          .as(
              "the old primary acknowledged a write after the new primary took its first: two writers")
          .isLessThan(firstNew.startNanos());

      JsonNode isolated = pair.primary.status();
      assertThat(failover(isolated).path("fenced").asBoolean())
          .as("old primary still fenced: " + isolated)
          .isTrue();
      assertThat(TwoSites.vol0(isolated).path("state").asText()).isEqualTo("fenced");
      assertThat(pair.primary.log()).contains("ALERT writes fenced");

      // Healed: the old primary learns of the newer term and stays fenced (an operator reintegrates
      // it).
      pair.healBetweenSites();
      pair.tokyoWitness.enable();
      pair.primary.awaitStatus(
          s -> failover(s).path("reason").asText().contains("deposed"),
          Duration.ofSeconds(30),
          "the old primary to learn it was deposed");
      long healed = SystemTime.NANO.nanoTime();
      old.awaitFirst(
          o -> o.startNanos() > healed + Duration.ofSeconds(1).toNanos(), Duration.ofSeconds(30));
      assertThat(old.lastAckEndNanos())
          .as("the deposed primary acknowledged a write after the heal")
          .isLessThan(firstNew.startNanos());
      assertThat(pair.standby.log()).contains("AUTOMATIC FAILOVER");
      probe.assertNeverBoth();
    }
  }

  @Test
  void aSwitchoverMovesThePrimaryWithoutAFenceOrAnAutomaticFailover() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    try (Toxiproxies toxi = Toxiproxies.start(seed);
        WitnessedPair pair = new WitnessedPair(dir, toxi, VOLUME, "").start();
        SplitBrainProbe probe = new SplitBrainProbe(pair).start()) {
      System.out.println("AutoFailoverIT seed=" + seed + " " + toxi);
      try (Writer before = new Writer("tokyo", pair.primaryNbd).start()) {
        before.awaitAcks(10, Duration.ofSeconds(30));
      }
      PromoteIT.Cli sw = PromoteIT.cli("switchover", "--admin", "127.0.0.1:" + pair.primaryAdmin);
      assertThat(sw.exit()).as(sw.output() + pair.logs()).isZero();
      long switched = SystemTime.NANO.nanoTime();
      // The new primary claims the lease the old one released; until it is granted (one witness
      // round trip, or a retry a heartbeat later) its writes are refused, never acknowledged.
      pair.standby.awaitStatus(
          x -> acceptsWrites(x), Duration.ofSeconds(10), "the new primary holding the lease");
      System.out.printf(
          "AutoFailoverIT: switchover CLI returned; new primary granted the lease %d ms later%n",
          (SystemTime.NANO.nanoTime() - switched) / 1_000_000);
      switched = SystemTime.NANO.nanoTime();
      try (Writer after = new Writer("hiroshima", pair.standbyNbd).start()) {
        after.awaitAcks(20, Duration.ofSeconds(30));
        // Longer than a lease and its margin: neither a self-fence of the new primary nor a
        // failover back to the old one may follow the switchover.
        while (SystemTime.NANO.nanoTime() - switched < QUIET.toNanos()) {
          JsonNode h = pair.standby.status();
          JsonNode t = pair.primary.status();
          assertThat(acceptsWrites(h))
              .as("the new primary fenced itself after the switchover: " + failover(h))
              .isTrue();
          assertThat(t.path("role").asText())
              .as("the old primary took the role back: " + failover(t))
              .isEqualTo("standby");
          SystemTime.pause(
              Duration.ofMillis(200).toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
        }
        assertThat(after.failuresAfter(switched))
            .as("writes refused on the new primary after the switchover")
            .isEmpty();
      }
      probe.assertNeverBoth();
    }
  }

  @Test
  void anIsolatedStandbyDoesNotPromoteAndThePrimaryKeepsWriting() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    try (Toxiproxies toxi = Toxiproxies.start(seed);
        WitnessedPair pair = new WitnessedPair(dir, toxi, VOLUME, "").start();
        Writer writer = new Writer("tokyo", pair.primaryNbd).start();
        SplitBrainProbe probe = new SplitBrainProbe(pair).start()) {
      System.out.println("AutoFailoverIT seed=" + seed + " " + toxi);
      writer.awaitAcks(10, Duration.ofSeconds(30));
      long cut = SystemTime.NANO.nanoTime();
      pair.cutBetweenSites();
      pair.hiroshimaWitness.disable();

      long until = cut + QUIET.toNanos();
      int polls = 0;
      while (SystemTime.NANO.nanoTime() < until) {
        JsonNode s = pair.standby.status();
        assertThat(s.path("role").asText())
            .as("the isolated standby promoted itself: " + failover(s))
            .isEqualTo("standby");
        JsonNode p = pair.primary.status();
        assertThat(acceptsWrites(p))
            .as("the primary, still holding the witness lease, fenced itself: " + failover(p))
            .isTrue();
        polls++;
        SystemTime.pause(
            Duration.ofMillis(100).toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
      }
      assertThat(writer.failuresAfter(cut))
          .as("writes refused on the primary while only the standby was cut off")
          .isEmpty();
      JsonNode s = pair.standby.status();
      System.out.printf(
          "AutoFailoverIT: isolated standby after %d polls over %d ms: decision %s, last action %s%n",
          polls,
          QUIET.toMillis(),
          failover(s).path("decision").asText(),
          failover(s).path("lastAction").asText());
      assertThat(failover(s).path("lastAction").asText())
          .as("the standby tried to claim and was refused")
          .contains("claim refused");

      pair.healBetweenSites();
      pair.hiroshimaWitness.enable();
      pair.standby.awaitStatus(
          x ->
              failover(x).path("decision").asText().equals("stay")
                  && x.path("link").path("connected").asBoolean(),
          Duration.ofSeconds(30),
          "the standby following the primary again");
      assertThat(pair.standby.status().path("role").asText()).isEqualTo("standby");
      probe.assertNeverBoth();
    }
  }

  @Test
  void maintenanceModeSuppressesFailoverAcrossARestartUntilItIsTurnedOff() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    try (Toxiproxies toxi = Toxiproxies.start(seed);
        WitnessedPair pair = new WitnessedPair(dir, toxi, VOLUME, "").start()) {
      String standbyAdmin = "127.0.0.1:" + pair.standbyAdmin;
      PromoteIT.Cli on = PromoteIT.cli("maintenance", "on", "--admin", standbyAdmin);
      assertThat(on.exit()).as(on.output()).isZero();
      assertThat(on.output()).contains("maintenance ON");
      // A planned restart keeps it.
      pair.standby.stop();
      pair.standby.start();
      pair.primary.awaitStatus(
          s -> s.path("link").path("connected").asBoolean(),
          Duration.ofSeconds(60),
          "the link back after the standby's restart");
      assertThat(failover(pair.standby.status()).path("maintenance").asBoolean())
          .as("maintenance mode after a restart")
          .isTrue();

      pair.primary.kill9();
      long killed = SystemTime.NANO.nanoTime();
      while (SystemTime.NANO.nanoTime() - killed < QUIET.toNanos()) {
        JsonNode s = pair.standby.status();
        assertThat(s.path("role").asText())
            .as("promoted in maintenance mode: " + failover(s))
            .isEqualTo("standby");
        SystemTime.pause(
            Duration.ofMillis(100).toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
      }
      JsonNode s = pair.standby.status();
      assertThat(failover(s).path("decision").asText()).isEqualTo("suppressed");
      assertThat(failover(s).path("reason").asText()).contains("maintenance");

      PromoteIT.Cli off = PromoteIT.cli("maintenance", "off", "--admin", standbyAdmin);
      assertThat(off.exit()).as(off.output()).isZero();
      long offAt = SystemTime.NANO.nanoTime();
      pair.standby.awaitStatus(
          x -> acceptsWrites(x), FAILOVER_BOUND, "the standby promoted once maintenance is off");
      System.out.printf(
          "AutoFailoverIT: maintenance off to promoted: %d ms%n",
          (SystemTime.NANO.nanoTime() - offAt) / 1_000_000);
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", pair.standbyNbd, "vol0")) {
        c.write(0, new byte[4096]).get(30, TimeUnit.SECONDS);
      }
    }
  }

  @Test
  void promotionWaitsForTheFenceAgentAndNeverHappensWhileItFails() throws Exception {
    Path agent = dir.resolve("fence_test");
    Path calls = dir.resolve("fence-calls.log");
    Path exitCode = dir.resolve("fence-exit-code");
    Files.writeString(exitCode, "1\n");
    Files.writeString(
        agent,
        """
        #!/bin/sh
        # A fence agent for tests: records its stdin (action=..., options) and exits as told.
        cat >> '%s'
        echo '---' >> '%s'
        code=$(cat '%s')
        echo "fence_test: exiting $code"
        exit "$code"
        """
            .formatted(calls, calls, exitCode));
    Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwxr-xr-x"));
    String fence =
        "fence: {command: [\"%s\"], options: {plug: tokyo-vm}, timeout: 5s}".formatted(agent);
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    try (Toxiproxies toxi = Toxiproxies.start(seed);
        WitnessedPair pair = new WitnessedPair(dir, toxi, VOLUME, fence).start()) {
      pair.primary.kill9();
      long killed = SystemTime.NANO.nanoTime();
      awaitFile(calls, "action=off", FAILOVER_BOUND);
      System.out.printf(
          "AutoFailoverIT: fence agent first called %d ms after the kill%n",
          (SystemTime.NANO.nanoTime() - killed) / 1_000_000);
      long watchFrom = SystemTime.NANO.nanoTime();
      while (SystemTime.NANO.nanoTime() - watchFrom < Duration.ofSeconds(3).toNanos()) {
        JsonNode s = pair.standby.status();
        assertThat(s.path("role").asText())
            .as("promoted although the fence agent failed: " + failover(s))
            .isEqualTo("standby");
        SystemTime.pause(
            Duration.ofMillis(100).toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
      }
      assertThat(failover(pair.standby.status()).path("lastFence").asText())
          .contains("failed with exit status 1");
      assertThat(pair.standby.log()).contains("ALERT fence agent failed");

      Files.writeString(exitCode, "0\n");
      pair.standby.awaitStatus(
          x -> acceptsWrites(x),
          FAILOVER_BOUND,
          "the standby promoted once the fence agent succeeds");
      String recorded = Files.readString(calls);
      assertThat(recorded).contains("action=off").contains("plug=tokyo-vm");
      assertThat(recorded.split("---", -1).length - 1)
          .as("fence agent calls: " + recorded)
          .isGreaterThanOrEqualTo(2);
      assertThat(failover(pair.standby.status()).path("lastFence").asText()).contains("succeeded");
    }
  }

  @Test
  void aFailingApplicationMonitorHandsThePrimaryOverWithoutWaitingForSilence() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    java.net.ServerSocket app =
        new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
    try {
      String monitors =
          "monitors: [{name: app, type: tcp, host: 127.0.0.1, port: %d, timeout: 1s}]\nmonitorFailures: 2\nmonitorInterval: 300ms"
              .formatted(app.getLocalPort());
      try (Toxiproxies toxi = Toxiproxies.start(seed);
          WitnessedPair pair = new WitnessedPair(dir, toxi, VOLUME, monitors).start();
          SplitBrainProbe probe = new SplitBrainProbe(pair).start()) {
        pair.primary.awaitStatus(
            s -> failover(s).path("monitors").path(0).path("healthy").asBoolean(false),
            Duration.ofSeconds(30),
            "the application monitor healthy");
        app.close(); // the application on the primary goes down
        long down = SystemTime.NANO.nanoTime();
        JsonNode promoted =
            pair.standby.awaitStatus(
                x -> acceptsWrites(x),
                FAILOVER_BOUND,
                "the standby taking over from a primary that stepped down");
        long tookMs = (SystemTime.NANO.nanoTime() - down) / 1_000_000;
        System.out.printf(
            "AutoFailoverIT: application down to standby promoted: %d ms (peerLostAfter %d ms + lease %d ms would apply to a silent primary)%n",
            tookMs, PEER_LOST_AFTER.toMillis(), LEASE.toMillis());
        assertThat(failover(promoted).path("recentDecisions").toString()).contains("stepped down");
        JsonNode old = pair.primary.status();
        assertThat(failover(old).path("fenced").asBoolean())
            .as("the primary that stepped down writes no more: " + failover(old))
            .isTrue();
        pair.primary.awaitStatus(
            x -> failover(x).path("reason").asText().contains("deposed"),
            Duration.ofSeconds(10),
            "the old primary learning the standby's newer term (deposed)");
        assertThat(pair.primary.log())
            .contains("ALERT stepping down")
            .contains("decision=self-fence term=1: stepped down (monitor \"app\"");
        probe.assertNeverBoth();
      }
    } finally {
      app.close();
    }
  }

  private static void join(Thread t) {
    if (t == null) {
      return;
    }
    try {
      t.join(15_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void awaitFile(Path file, String text, Duration timeout) throws IOException {
    long deadline = SystemTime.NANO.nanoTime() + timeout.toNanos();
    while (SystemTime.NANO.nanoTime() < deadline) {
      if (Files.exists(file) && Files.readString(file).contains(text)) {
        return;
      }
      SystemTime.pause(Duration.ofMillis(50).toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
    }
    throw new AssertionError("no \"" + text + "\" in " + file + " within " + timeout);
  }

  /** Polls both sites' status throughout and records any round in which both accepted writes. */
  static final class SplitBrainProbe implements AutoCloseable {
    private final WitnessedPair pair;
    private final List<String> both = new ArrayList<>();
    private volatile boolean stop;
    private Thread thread;
    private int rounds;

    SplitBrainProbe(WitnessedPair pair) {
      this.pair = pair;
    }

    SplitBrainProbe start() {
      thread =
          Thread.ofPlatform()
              .name("split-brain-probe")
              .daemon(true)
              .start(
                  () -> {
                    while (!stop && rounds < 100_000) {
                      try {
                        JsonNode a = pair.primary.status();
                        JsonNode b = pair.standby.status();
                        if (acceptsWrites(a) && acceptsWrites(b)) {
                          synchronized (both) {
                            both.add("tokyo " + failover(a) + " / hiroshima " + failover(b));
                          }
                        }
                      } catch (IOException | RuntimeException e) {
                        // a site not answering accepts no writes through this probe's eyes either
                      } catch (InterruptedException e) {
                        return;
                      }
                      rounds++;
                      SystemTime.pause(
                          Duration.ofMillis(20).toNanos(),
                          java.util.concurrent.TimeUnit.NANOSECONDS);
                    }
                  });
      return this;
    }

    void assertNeverBoth() {
      synchronized (both) {
        assertThat(both)
            .as("rounds in which both sites were primary and unfenced (of %d)", rounds)
            .isEmpty();
      }
      assertThat(rounds).as("probe rounds").isPositive();
    }

    @Override
    public void close() {
      stop = true;
      join(thread);
    }
  }

  /** Writes 4 KiB blocks one after another to a site's NBD export and records each outcome. */
  static final class Writer implements AutoCloseable {
    record Outcome(long startNanos, long endNanos, boolean ok, String error) {}

    private final String site;
    private final int port;
    private final List<Outcome> outcomes = new ArrayList<>();
    private volatile boolean stop;
    private Thread thread;

    Writer(String site, int port) {
      this.site = site;
      this.port = port;
    }

    Writer start() {
      thread = Thread.ofPlatform().name("writer-" + site).daemon(true).start(this::run);
      return this;
    }

    private void run() {
      NbdTestClient c = null;
      byte[] block = new byte[4096];
      for (int i = 0; !stop && i < 1_000_000; i++) {
        long start = SystemTime.NANO.nanoTime();
        String error = null;
        try {
          if (c == null) {
            c = NbdTestClient.connect("127.0.0.1", port, "vol0");
          }
          block[0] = (byte) i;
          c.write((long) (i % 1024) * 4096, block).get(10, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
          error = String.valueOf(e.getCause());
          if (!(e.getCause() instanceof NbdErrorException)) {
            c = close(c);
          }
        } catch (IOException | TimeoutException e) {
          error = e.toString();
          c = close(c);
        } catch (InterruptedException e) {
          break;
        }
        synchronized (outcomes) {
          outcomes.add(new Outcome(start, SystemTime.NANO.nanoTime(), error == null, error));
        }
        SystemTime.pause(
            Duration.ofMillis(error == null ? 2 : 20).toNanos(),
            java.util.concurrent.TimeUnit.NANOSECONDS);
      }
      close(c);
    }

    private static NbdTestClient close(NbdTestClient c) {
      if (c != null) {
        try {
          c.close();
        } catch (Exception ignored) {
          // the connection is gone either way
        }
      }
      return null;
    }

    void awaitAcks(int n, Duration timeout) {
      awaitFirst(
          new Predicate<>() {
            int seen;

            @Override
            public boolean test(Outcome o) {
              return o.ok() && ++seen >= n;
            }
          },
          timeout);
    }

    /** The first outcome (in order) matching {@code p}, waiting for it (bounded). */
    Outcome awaitFirst(Predicate<Outcome> p, Duration timeout) {
      long deadline = SystemTime.NANO.nanoTime() + timeout.toNanos();
      int from = 0;
      while (SystemTime.NANO.nanoTime() < deadline) {
        synchronized (outcomes) {
          for (; from < outcomes.size(); from++) {
            if (p.test(outcomes.get(from))) {
              return outcomes.get(from);
            }
          }
        }
        SystemTime.pause(
            Duration.ofMillis(10).toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
      }
      synchronized (outcomes) {
        throw new AssertionError(
            "writer "
                + site
                + ": no matching write outcome within "
                + timeout
                + "; last: "
                + (outcomes.isEmpty() ? "none" : outcomes.getLast()));
      }
    }

    long lastAckEndNanos() {
      synchronized (outcomes) {
        for (int i = outcomes.size() - 1; i >= 0; i--) {
          if (outcomes.get(i).ok()) {
            return outcomes.get(i).endNanos();
          }
        }
      }
      return Long.MIN_VALUE;
    }

    /** Outcomes whose write ended in [from, to] (nanoTime), in order. */
    List<Outcome> outcomesBetween(long from, long to) {
      synchronized (outcomes) {
        return outcomes.stream().filter(o -> o.endNanos() >= from && o.endNanos() <= to).toList();
      }
    }

    List<Outcome> failuresAfter(long nanos) {
      synchronized (outcomes) {
        return outcomes.stream().filter(o -> !o.ok() && o.startNanos() > nanos).toList();
      }
    }

    @Override
    public void close() {
      stop = true;
      join(thread);
    }
  }
}
