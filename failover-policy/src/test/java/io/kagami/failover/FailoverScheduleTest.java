package io.kagami.failover;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.kagami.failover.fence.FenceCommand;
import io.kagami.failover.fence.FenceResult;
import io.kagami.failover.heartbeat.Heartbeat;
import io.kagami.failover.monitor.MonitorConfig;
import io.kagami.failover.monitor.ProbeResult;
import io.kagami.failover.witness.LeaseReply;
import io.kagami.failover.witness.LeaseRequest;
import io.kagami.failover.witness.WitnessState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Property test: random schedules of partitions between primary, standby and witness, clock
 * advances, crashes (sites and witness), fence outcomes, application failures and maintenance
 * toggles. At every fake instant, after every single action:
 *
 * <ul>
 *   <li>at most one site may acknowledge writes;
 *   <li>a primary that reaches neither the witness nor the peer stops within {@code
 *       selfFenceAfter}.
 * </ul>
 *
 * The seed is printed; rerun one schedule with {@code -Dkagami.seed=<seed>}.
 */
class FailoverScheduleTest {
  private static final String GROUP = "pair-1";
  private static final List<String> PATHS = List.of("wan", "alt");
  private static final Duration MARGIN = Duration.ofSeconds(2);
  private static final int SCHEDULES = 300;
  private static final int STEPS = 400;

  @Test
  void neverTwoWritersAndIsolatedPrimaryFencesInTime() {
    String fixed = System.getProperty("kagami.seed");
    long master = fixed != null ? Long.parseLong(fixed) : new Random().nextLong();
    System.out.println(
        "FailoverScheduleTest seed="
            + master
            + (fixed != null
                ? " (one schedule)"
                : " (" + SCHEDULES + " schedules; schedule i uses seed+i)"));
    int schedules = fixed != null ? 1 : SCHEDULES;
    Stats total = new Stats();
    for (int i = 0; i < schedules; i++) {
      new Schedule(master + i).run(total);
    }
    System.out.printf(
        "FailoverScheduleTest: %d schedules, %d steps, %d promotions, %d self-fences seen, %d isolation checks, %d fence failures%n",
        schedules,
        total.steps,
        total.promotions,
        total.selfFenceInstants,
        total.isolationChecks,
        total.fenceFailures);
    // The schedules must reach the interesting states, or the property says nothing.
    if (fixed == null) {
      assertThat(total.promotions)
          .as("automatic promotions across all schedules")
          .isGreaterThan(schedules / 4);
      assertThat(total.isolationChecks)
          .as("instants checked with the primary isolated past its fence timeout")
          .isGreaterThan(schedules);
      assertThat(total.fenceFailures)
          .as("fence failures that had to block promotion")
          .isGreaterThan(0);
    }
  }

  static final class Stats {
    long steps;
    long promotions;
    long selfFenceInstants;
    long isolationChecks;
    long fenceFailures;
  }

  /** One site: a policy that is lost on crash; the term and role survive (they are on disk). */
  static final class Site {
    final String id;
    final int index;
    FailoverPolicy policy;
    boolean up = true;
    boolean maintenance;
    boolean appFailing;
    Instant isolatedSince;

    Site(String id, int index, FailoverPolicy policy) {
      this.id = id;
      this.index = index;
      this.policy = policy;
    }
  }

  static final class Schedule {
    final long seed;
    final Random rnd;
    final FakeClock clock = new FakeClock();
    final FailoverConfig config;
    WitnessState witness;
    boolean witnessUp = true;
    final Site[] sites = new Site[2];

    /** linkUp[path][from][to]: a heartbeat path, per direction (asymmetric partitions happen). */
    final boolean[][][] linkUp = new boolean[PATHS.size()][2][2];

    final boolean[] witnessLink = {true, true};
    final List<String> trace = new ArrayList<>();

    Schedule(long seed) {
      this.seed = seed;
      // Consecutive seeds give java.util.Random correlated first draws; scramble them first.
      this.rnd = new Random(new java.util.SplittableRandom(seed).nextLong());
      FailoverConfig base =
          FailoverConfig.defaults()
              .withAutoFailover(true)
              .withMonitors(List.of(new MonitorConfig.Tcp("app", "127.0.0.1", 5432, null)), 3);
      base =
          new FailoverConfig(
              true,
              PATHS,
              Duration.ofSeconds(1),
              Duration.ofSeconds(10),
              Duration.ofSeconds(6),
              Duration.ofSeconds(10),
              null,
              base.monitors(),
              3);
      // Half the schedules fence with an agent, half rely on self-fencing alone.
      this.config =
          rnd.nextBoolean()
              ? base.withFence(
                  new FenceCommand(List.of("fence_sim"), Map.of("plug", "tokyo"), null))
              : base;
      witness = new WitnessState(config.lease(), MARGIN, clock);
      clock.advance(config.lease().plus(MARGIN)); // past the witness's start-up grace
      for (boolean[][] p : linkUp) {
        for (boolean[] d : p) {
          java.util.Arrays.fill(d, true);
        }
      }
      sites[0] = new Site("tokyo", 0, FailoverPolicy.primary(config, "tokyo", 1, clock));
      sites[1] = new Site("hiroshima", 1, FailoverPolicy.standby(config, "hiroshima", 1, clock));
    }

    void run(Stats stats) {
      try {
        for (int step = 0; step < STEPS; step++) {
          clock.advanceMillis(50 + rnd.nextInt(1_000));
          if (rnd.nextInt(100) < 12) {
            randomEvent();
          }
          exchangeHeartbeats();
          updateIsolation();
          for (Site s : shuffled()) {
            if (s.up) {
              act(s, stats);
            }
          }
          check(stats);
          stats.steps++;
        }
      } catch (AssertionError e) {
        System.out.println("schedule seed=" + seed + " failed; last events:");
        trace
            .subList(Math.max(0, trace.size() - 60), trace.size())
            .forEach(t -> System.out.println("  " + t));
        throw e;
      }
    }

    private void log(String s) {
      trace.add(clock.instant() + " " + s);
    }

    private List<Site> shuffled() {
      return rnd.nextBoolean() ? List.of(sites[0], sites[1]) : List.of(sites[1], sites[0]);
    }

    private void randomEvent() {
      int kind = rnd.nextInt(12);
      switch (kind) {
        case 0, 1 -> {
          int p = rnd.nextInt(PATHS.size());
          int from = rnd.nextInt(2);
          boolean both = rnd.nextBoolean();
          boolean up = !linkUp[p][from][1 - from];
          linkUp[p][from][1 - from] = up;
          if (both) {
            linkUp[p][1 - from][from] = up;
          }
          log(
              "path "
                  + PATHS.get(p)
                  + " "
                  + sites[from].id
                  + (both ? " <-> " : " -> ")
                  + sites[1 - from].id
                  + (up ? " up" : " down"));
        }
        case 2 -> {
          int i = rnd.nextInt(2);
          witnessLink[i] = !witnessLink[i];
          log("witness link " + sites[i].id + (witnessLink[i] ? " up" : " down"));
        }
        case 3 -> {
          Site s = sites[rnd.nextInt(2)];
          if (s.up) {
            s.up = false;
            log(s.id + " crashed");
          } else {
            restart(s);
          }
        }
        case 4 -> {
          if (witnessUp) {
            witnessUp = false;
            log("witness crashed");
          } else {
            witnessUp = true;
            witness = new WitnessState(config.lease(), MARGIN, clock); // forgot everything
            log("witness restarted (empty)");
          }
        }
        case 5 -> {
          Site s = sites[rnd.nextInt(2)];
          s.maintenance = !s.maintenance;
          s.policy.setMaintenance(s.maintenance);
          log(s.id + " maintenance " + s.maintenance);
        }
        case 6 -> {
          Site s = sites[rnd.nextInt(2)];
          s.appFailing = !s.appFailing;
          log(s.id + " application " + (s.appFailing ? "failing" : "healthy"));
        }
        case 7, 8, 9 -> {
          // A whole site drops off the network (its uplink fails): the common real partition.
          int i = rnd.nextInt(2);
          for (boolean[][] p : linkUp) {
            p[i][1 - i] = false;
            p[1 - i][i] = false;
          }
          witnessLink[i] = false;
          log(sites[i].id + " isolated from everything");
        }
        default -> {
          // heal everything now and then, so schedules also leave partitions
          for (boolean[][] p : linkUp) {
            for (boolean[] d : p) {
              java.util.Arrays.fill(d, true);
            }
          }
          witnessLink[0] = witnessLink[1] = true;
          log("network healed");
        }
      }
    }

    private void restart(Site s) {
      FailoverPolicy old = s.policy;
      s.policy =
          old.role() == FailoverPolicy.Role.PRIMARY
              ? FailoverPolicy.primary(config, s.id, old.term(), clock)
              : FailoverPolicy.standby(config, s.id, old.term(), clock);
      s.policy.setMaintenance(s.maintenance);
      s.up = true;
      log(s.id + " restarted as " + s.policy.role() + " term " + s.policy.term());
    }

    private boolean delivers(int path, int from, int to) {
      return sites[from].up && sites[to].up && linkUp[path][from][to];
    }

    private void exchangeHeartbeats() {
      for (Site from : shuffled()) {
        int to = 1 - from.index;
        if (!from.up) {
          continue;
        }
        Heartbeat hb = from.policy.heartbeat();
        for (int p = 0; p < PATHS.size(); p++) {
          // Each path independently loses a heartbeat now and then.
          if (delivers(p, from.index, to) && rnd.nextInt(100) < 95) {
            sites[to].policy.onHeartbeat(PATHS.get(p), hb);
            checkNoTwoWriters("heartbeat " + from.id + " -> " + sites[to].id);
          }
        }
      }
    }

    private boolean witnessReachable(Site s) {
      return witnessUp && witnessLink[s.index];
    }

    /**
     * Whether the site's heartbeats reach the peer. Only this direction creates new evidence: an
     * echo may come back later, on another path, but it echoes a send time when the peer heard us.
     */
    private boolean reachesPeer(Site s) {
      int o = 1 - s.index;
      boolean out = false;
      for (int p = 0; p < PATHS.size(); p++) {
        out |= linkUp[p][s.index][o];
      }
      return sites[o].up && out;
    }

    private void updateIsolation() {
      for (Site s : sites) {
        boolean isolated = s.up && !witnessReachable(s) && !reachesPeer(s);
        if (!isolated) {
          s.isolatedSince = null;
        } else if (s.isolatedSince == null) {
          s.isolatedSince = clock.instant();
        }
      }
    }

    private void act(Site s, Stats stats) {
      FailoverPolicy pol = s.policy;
      if (s.appFailing && pol.role() == FailoverPolicy.Role.PRIMARY) {
        pol.onProbe(ProbeResult.failed("app", "connection refused"));
      } else if (pol.role() == FailoverPolicy.Role.PRIMARY) {
        pol.onProbe(ProbeResult.healthy("app", "connected"));
      }
      if (pol.holdsLease() && witnessReachable(s)) {
        Instant sent = clock.instant();
        LeaseReply r = witness.renew(new LeaseRequest(GROUP, s.id, pol.term()));
        if (rnd.nextInt(100) < 90) { // replies get lost too; the witness acted anyway
          pol.onRenewReply(r, sent);
        }
        checkNoTwoWriters(s.id + " renewed: " + r.reason());
      }
      Decision d = pol.decide();
      switch (d) {
        case Decision.RequestPromotion rp -> {
          pol.onClaimSent();
          Instant sent = clock.instant();
          LeaseReply r =
              witnessReachable(s)
                  ? witness.claim(new LeaseRequest(GROUP, s.id, rp.knownTerm()))
                  : null;
          pol.onClaimReply(r != null && rnd.nextInt(100) < 90 ? r : null, sent);
          log(s.id + " claim: " + (r == null ? "witness unreachable" : r.reason()));
        }
        case Decision.Fence f -> {
          Site target = sites[1 - s.index];
          boolean ok = rnd.nextInt(100) < 60;
          if (ok) {
            target.up = false; // powered off by the agent
          } else {
            stats.fenceFailures++;
          }
          pol.onFenceResult(
              new FenceResult(
                  ok, ok ? 0 : 1, false, Duration.ofMillis(300), "", ok ? "off" : "ipmi timeout"));
          log(s.id + " fence " + target.id + ": " + (ok ? "ok" : "FAILED"));
        }
        case Decision.Promote p -> {
          pol.onPromoted();
          stats.promotions++;
          log(s.id + " promoted at term " + p.term());
        }
        case Decision.StepDown sd -> {
          if (witnessReachable(s)) {
            LeaseReply r = witness.release(new LeaseRequest(GROUP, s.id, sd.term()));
            if (r.granted()) {
              pol.onSteppedDown();
            }
            log(s.id + " step down: " + r.reason());
          }
        }
        case Decision.SelfFence sf -> stats.selfFenceInstants++;
        case Decision.Stay st -> {}
        case Decision.Suppressed su -> {}
      }
      checkNoTwoWriters(s.id + " decided " + d);
    }

    private void check(Stats stats) {
      checkNoTwoWriters("end of step");
      for (Site s : sites) {
        if (s.isolatedSince != null
            && s.policy.role() == FailoverPolicy.Role.PRIMARY
            && !clock.instant().isBefore(s.isolatedSince.plus(config.selfFenceAfter()))) {
          stats.isolationChecks++;
          if (s.policy.mayAcknowledgeWrites()) {
            fail(
                "seed "
                    + seed
                    + ": "
                    + s.id
                    + " isolated since "
                    + s.isolatedSince
                    + " still acknowledges writes at "
                    + clock.instant()
                    + " (selfFenceAfter "
                    + config.selfFenceAfter()
                    + ")");
          }
        }
      }
    }

    private void checkNoTwoWriters(String after) {
      boolean a = sites[0].up && sites[0].policy.mayAcknowledgeWrites();
      boolean b = sites[1].up && sites[1].policy.mayAcknowledgeWrites();
      if (a && b) {
        fail(
            "seed "
                + seed
                + ": both tokyo (term "
                + sites[0].policy.term()
                + ") and hiroshima (term "
                + sites[1].policy.term()
                + ") may acknowledge writes at "
                + clock.instant()
                + ", after: "
                + after);
      }
    }
  }
}
