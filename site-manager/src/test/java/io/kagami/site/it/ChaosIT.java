package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import eu.rekawek.toxiproxy.Proxy;
import eu.rekawek.toxiproxy.model.ToxicDirection;
import io.kagami.clock.SystemTime;
import io.kagami.site.cli.Main;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.toxi.Toxiproxies;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * Randomized chaos over a primary ({@code tokyo}) and a standby ({@code hiroshima}), real
 * processes: each schedule is a seeded random sequence of faults — link cuts and toxics on the WAN
 * proxy, kill -9 of either site and restart, a step of either site's wall clock (back or forward by
 * up to an hour, through the {@link SiteClocks} seam), either site's journal filesystem full (a
 * small tmpfs, filled from outside, then freed) — while a host keeps writing, optionally ending in
 * an unplanned failover done the runbook's way (fence the primary with kill -9, {@code kagami
 * promote} on the standby, keep writing to it). Checked for every schedule:
 *
 * <ul>
 *   <li>after a promotion, sync mode: every write acknowledged before it is on the promoted site;
 *       both modes: the promoted replica is the state after a prefix of the writes in issue order
 *       (unless the promotion had to be forced over an inconsistent replica);
 *   <li>a restarted primary (and a restarted promoted site) holds every write it acknowledged;
 *   <li>without a promotion, once healed, the replica is byte-identical to the primary;
 *   <li>at no moment do both sites accept writes ({@link TwoWriterProbe});
 *   <li>after a clock step, the lag both sites report is neither negative nor the size of the step;
 *       after a full journal, writes resume once space is freed (a site whose journal broke inside
 *       RocksDB exits with status 75 and is restarted, as its supervisor would).
 * </ul>
 *
 * <p>At the end a summary line counts what all schedules did and checked (schedules, kills, link
 * faults, clock steps, disk-full faults, promotions, failbacks, acknowledged writes checked, writes
 * lost, prefix violations).
 *
 * <p>The old primary is never restarted after a promotion: today it would start as a primary again
 * (nothing tells it about the promotion), which is exactly the two-writer state the runbook's
 * fencing exists to prevent. Once {@code kagami failback} exists, a schedule will go on after the
 * promotion: restart the old primary with failback so it rejoins as the new standby, and the probe
 * (whose eras allow a site to stop and later resume accepting) checks that it never accepts writes
 * while the promoted site does; the data checks then run in the reverse direction.
 *
 * <p>Seeds: each schedule prints its seed; {@code -Dkagami.chaos.seed=S} (or {@code S1,S2,...})
 * runs that schedule again (the same steps, durations and toxics; thread timing, and so exactly
 * which writes are acknowledged when, differs between runs). {@code -Dkagami.chaos.schedules=N}
 * sets how many (default 12, a CI smoke run that keeps the suite within its time; the {@code
 * chaos-nightly} profile runs 500).
 */
class ChaosIT {
  private static final int BLOCK = 4096;
  private static final long VOLUME = 16L << 20;

  /**
   * The writer's region: the first 12 MiB; the probe's scratch blocks are the volume's last two.
   */
  private static final int WRITER_BLOCKS = (12 << 20) / BLOCK;

  private static final Duration T = Duration.ofSeconds(30);
  private static final String SYNC = "mode: sync, syncTimeout: 1s, onSyncTimeout: block";
  private static final String ASYNC = "mode: async";

  private static Toxiproxies toxi;

  /**
   * Time spent starting site processes (and their count) and in the promote CLI, for the summary:
   * where a schedule's time goes.
   */
  private static long startNanos;

  private static int starts;

  /**
   * What all schedules did and checked, for the closing summary (the figures); guarded by
   * {@code ChaosIT.class}.
   */
  private static final class Tally {
    int schedules;
    int passed;
    int primaryKills;
    int standbyKills;
    int linkFaults;
    int clockSteps;
    int diskFulls;
    int promotions;
    int failbacks;
    long ackedWritesChecked;
    int syncSchedules;
    int supervisorRestarts;

    @Override
    public String toString() {
      return String.format(
          "schedules %d (%d sync), passed %d, kills %d (primary %d, standby %d), link faults %d,"
              + " clock steps %d, disk-full faults %d (site restarts by the supervisor %d),"
              + " promotions %d, failbacks %d, acknowledged"
              + " writes checked %d, writes lost %d, prefix violations %d",
          schedules,
          syncSchedules,
          passed,
          primaryKills + standbyKills,
          primaryKills,
          standbyKills,
          linkFaults,
          clockSteps,
          diskFulls,
          supervisorRestarts,
          promotions,
          failbacks,
          ackedWritesChecked,
          // Any lost write or prefix violation fails its schedule at once (and stops the run):
          // each failed schedule is counted here as what it was reported as.
          lost,
          prefixViolations);
    }

    int lost;
    int prefixViolations;
  }

  private static final Tally tally = new Tally();
  private static long cliNanos;
  private static volatile boolean failed;

  @TempDir static Path root;

  /** JVM options for every site process: see {@link #fastStart()}. */
  private static List<String> siteJvm = List.of();

  @BeforeAll
  static void setUp() throws IOException {
    toxi = Toxiproxies.start(0);
    siteJvm = fastStart();
    System.out.println("ChaosIT: site processes run with " + siteJvm);
  }

  /**
   * A schedule starts two or more site processes, and starting one dominates its time (about 4 s of
   * CPU with the defaults). Cheaper, with nothing the sites do changed: C1 only and the serial
   * collector (short-lived processes never profit from C2, measured: about 40% less CPU per start),
   * and RocksDB's library loaded from a directory instead of being unpacked from its jar at every
   * start — which also stops every kill -9 from leaving a 15 MB copy behind in the temporary
   * directory. (A class data archive would save a little more, but the test class path holds
   * directories, which AppCDS does not archive.)
   */
  private static List<String> fastStart() throws IOException {
    List<String> options = new ArrayList<>(List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"));
    Path lib = root.resolve("native");
    for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
      if (entry.contains("rocksdbjni")
          && entry.endsWith(".jar")
          && System.getProperty("os.name").equals("Linux")
          && System.getProperty("os.arch").equals("amd64")) {
        try (java.util.zip.ZipFile jar = new java.util.zip.ZipFile(entry)) {
          var so = jar.getEntry("librocksdbjni-linux64.so");
          if (so != null) {
            Files.createDirectories(lib);
            try (var in = jar.getInputStream(so)) {
              Files.copy(in, lib.resolve("librocksdbjni-linux64.so"));
            }
            options.add("-Djava.library.path=" + lib);
          }
        }
      }
    }
    return List.copyOf(options);
  }

  // ---- schedules -------------------------------------------------------------------------------

  /**
   * One step of a schedule. {@code hold}: how long a fault lasts at most (sooner once {@code acks}
   * more writes were acknowledged).
   */
  sealed interface Step {
    record CutLink(Duration hold, int acks) implements Step {}

    /**
     * A toxic on the WAN proxy: latency (ms each way), timeout (ms) or reset_peer (ms), both
     * directions.
     */
    record Toxic(String type, int value, Duration hold, int acks) implements Step {}

    record KillStandby(Duration down, int acks) implements Step {}

    record KillPrimary() implements Step {}

    /**
     * An NTP-style step of one site's wall clock by {@code seconds} (back when negative), through
     * libfaketime; the monotonic clock is left alone, as a real step leaves it. It stays stepped.
     */
    record ClockStep(boolean primary, int seconds, Duration hold, int acks) implements Step {}

    /** One site's journal filesystem full (a filler file takes its last byte), then freed. */
    record DiskFull(boolean primary, Duration hold, int acks) implements Step {}

    /**
     * Failover: kill -9 the primary (fencing), optionally while the link is cut, promote the
     * standby, write to it; optionally kill -9 the promoted site and restart it; optionally ({@code
     * rejoin}) bring the old primary back as the standby ({@code kagami failback --config} while it
     * is down, then start it) and return production to it with {@code kagami switchover}.
     */
    record Promote(boolean linkCutFirst, boolean killPromoted, boolean rejoin) implements Step {}
  }

  record Schedule(long seed, boolean sync, int baseLatencyMs, List<Step> steps) {
    static Schedule of(long seed) {
      Random rnd = new Random(seed);
      boolean sync = rnd.nextBoolean();
      int latency = rnd.nextInt(6); // a WAN link is never free: lets a lost sync ack show
      List<Step> steps = new ArrayList<>();
      int faults = 1 + rnd.nextInt(3);
      for (int i = 0; i < faults; i++) {
        Duration hold = Duration.ofMillis(150 + rnd.nextInt(650));
        int acks = 50 + rnd.nextInt(350);
        steps.add(
            switch (rnd.nextInt(8)) {
              case 0 -> new Step.CutLink(hold, acks);
              case 1 -> new Step.Toxic("latency", 5 + rnd.nextInt(26), hold, acks);
              case 2 -> new Step.Toxic("timeout", 50 + rnd.nextInt(300), hold, acks);
              case 3 -> new Step.Toxic("reset_peer", 20 + rnd.nextInt(200), hold, acks);
              case 4 -> new Step.KillStandby(hold, acks);
              case 5 ->
                  new Step.ClockStep(
                      rnd.nextBoolean(),
                      (rnd.nextBoolean() ? 1 : -1) * (30 + rnd.nextInt(3600)),
                      hold,
                      acks);
              case 6 -> new Step.DiskFull(rnd.nextBoolean(), hold, acks);
              default -> new Step.KillPrimary();
            });
      }
      if (rnd.nextInt(10) < 6) {
        steps.add(new Step.Promote(rnd.nextInt(3) == 0, rnd.nextBoolean(), rnd.nextInt(3) == 0));
      }
      return new Schedule(seed, sync, latency, List.copyOf(steps));
    }

    boolean has(Class<? extends Step> kind) {
      return steps.stream().anyMatch(kind::isInstance);
    }
  }

  @org.junit.jupiter.api.AfterAll
  static void summary() {
    synchronized (ChaosIT.class) {
      System.out.println("ChaosIT summary: " + tally);
    }
  }

  @TestFactory
  Stream<DynamicTest> randomSchedules() {
    // -Dkagami.chaos.seed=S[,S2...]: exactly these schedules; else kagami.chaos.schedules random
    // ones.
    List<Long> all = new ArrayList<>();
    String fixed = System.getProperty("kagami.chaos.seed", "").trim();
    if (!fixed.isEmpty()) {
      for (String seed : fixed.split(",")) {
        all.add(Long.parseLong(seed.trim()));
      }
    } else {
      SplittableRandom seeds = new SplittableRandom(SystemTime.NANO.nanoTime());
      for (int i = Integer.getInteger("kagami.chaos.schedules", 12); i > 0; i--) {
        all.add(seeds.nextLong());
      }
    }
    long suiteStart = SystemTime.NANO.nanoTime();
    return all.stream()
        .map(
            seed ->
                DynamicTest.dynamicTest(
                    "chaos seed=" + seed,
                    () -> {
                      // A broken build fails the same way many times: one failure is enough to
                      // read.
                      Assumptions.assumeFalse(failed, "an earlier schedule failed");
                      Schedule s = Schedule.of(seed);
                      System.out.printf(
                          "ChaosIT seed=%d %s latency %d ms: %s (rerun: -Dkagami.chaos.seed=%d)%n",
                          seed, s.sync() ? "sync" : "async", s.baseLatencyMs(), s.steps(), seed);
                      synchronized (ChaosIT.class) {
                        tally.schedules++;
                        tally.syncSchedules += s.sync() ? 1 : 0;
                      }
                      try {
                        String result = run(s);
                        synchronized (ChaosIT.class) {
                          tally.passed++;
                        }
                        System.out.printf(
                            "ChaosIT seed=%d ok: %s [%.1f s into the run]%n",
                            seed, result, (SystemTime.NANO.nanoTime() - suiteStart) / 1e9);
                      } catch (Throwable t) {
                        failed = true;
                        String why = String.valueOf(t.getMessage());
                        synchronized (ChaosIT.class) {
                          if (why.contains("lost acknowledged")) {
                            tally.lost++;
                          } else if (why.contains("not a prefix") || why.contains("never sent")) {
                            tally.prefixViolations++;
                          }
                        }
                        System.out.printf(
                            "ChaosIT seed=%d FAILED: %s (rerun: -Dkagami.chaos.seed=%d)%n",
                            seed,
                            t.getMessage() == null
                                ? t
                                : t.getMessage().lines().findFirst().orElse(""),
                            seed);
                        throw t;
                      }
                    }));
  }

  // ---- running one schedule --------------------------------------------------------------------

  /** The host's writer on one site's NBD export, on its own thread. */
  private static final class WriterRun {
    private final Thread thread;
    private final NbdTestClient client;

    WriterRun(CrashIT.Writer w, int nbdPort) throws IOException {
      client = NbdTestClient.connect("127.0.0.1", nbdPort, "vol0");
      thread =
          Thread.ofPlatform()
              .name("chaos-writer")
              .start(
                  () -> {
                    try {
                      w.run(client, Long.MAX_VALUE, Long.MAX_VALUE, () -> {});
                    } catch (InterruptedException e) {
                      Thread.currentThread().interrupt();
                    } finally {
                      client.close();
                    }
                  });
    }

    /**
     * Waits (bounded) for the writer to finish: after {@code Writer.stop()} or a kill of its site.
     */
    void join() throws InterruptedException {
      if (!thread.join(Duration.ofSeconds(45))) {
        throw new AssertionError("writer did not finish within 45 s");
      }
    }
  }

  private static String run(Schedule s) throws Exception {
    long start = SystemTime.NANO.nanoTime();
    synchronized (ChaosIT.class) {
      startNanos = 0;
      starts = 0;
      cliNanos = 0;
    }
    Path dir = Files.createDirectories(root.resolve("s" + Long.toUnsignedString(s.seed(), 36)));
    CrashIT.Writer w = new CrashIT.Writer(s.seed(), WRITER_BLOCKS);
    // Enough in flight to keep a journal group-committing; more only burns the CPU that process
    // starts need (async acknowledges thousands of writes a second otherwise).
    w.window = s.sync() ? 8 : 2;
    // A sync volume acknowledges nothing while its standby restarts, which takes seconds on a
    // loaded machine; the writer waits, and its progress is checked with deadlines of its own.
    w.patience = Duration.ofSeconds(60);
    String outcome;
    TwoSites sites = TwoSites.throughProxy(dir, VOLUME, s.sync() ? SYNC : ASYNC, toxi);
    Proxy wan = sites.wanProxy;
    sites.primary.jvmOptions(plus(siteJvm, SiteClocks.jvmOptions(dir.resolve("tokyo.clock"))));
    sites.standby.jvmOptions(plus(siteJvm, SiteClocks.jvmOptions(dir.resolve("hiroshima.clock"))));
    List<Path> mounts = new ArrayList<>();
    TwoWriterProbe probe = null;
    try {
      if (s.has(Step.DiskFull.class)) {
        for (String site : List.of("tokyo", "hiroshima")) {
          // A journal of its own size, with a reserve and WAL to match (the defaults are for
          // disks).
          Files.writeString(
              dir.resolve(site + ".yaml"),
              "journal: {reserve: 4MiB, walSize: 2MiB}\n",
              java.nio.file.StandardOpenOption.APPEND);
          mounts.add(SmallFilesystems.mount(dir.resolve(site + "/journal"), "128m"));
        }
      }
      if (s.baseLatencyMs() > 0) {
        wan.toxics().latency("base-up", ToxicDirection.UPSTREAM, s.baseLatencyMs());
        wan.toxics().latency("base-down", ToxicDirection.DOWNSTREAM, s.baseLatencyMs());
      }
      startBoth(sites);
      probe = new TwoWriterProbe(sites, VOLUME).start();
      WriterRun writer = new WriterRun(w, sites.primaryNbd);
      progress(w, 100, "first writes");
      Promoted promoted = null;
      for (Step step : s.steps()) {
        switch (step) {
          case Step.CutLink c -> {
            count(() -> tally.linkFaults++);
            wan.disable();
            sites.primary.awaitStatus(
                st -> !st.path("link").path("connected").asBoolean(),
                T,
                "the primary to see the link down");
            hold(w, c.acks(), c.hold());
            wan.enable();
            healed(sites, w, "link restored");
          }
          case Step.Toxic t -> {
            count(() -> tally.linkFaults++);
            switch (t.type()) {
              case "latency" -> {
                wan.toxics().latency("chaos-up", ToxicDirection.UPSTREAM, t.value());
                wan.toxics().latency("chaos-down", ToxicDirection.DOWNSTREAM, t.value());
              }
              case "timeout" -> wan.toxics().timeout("chaos", ToxicDirection.UPSTREAM, t.value());
              default -> wan.toxics().resetPeer("chaos", ToxicDirection.DOWNSTREAM, t.value());
            }
            hold(w, t.acks(), t.hold());
            for (var toxic : wan.toxics().getAll()) {
              if (toxic.getName().startsWith("chaos")) {
                toxic.remove();
              }
            }
            healed(sites, w, t.type() + " removed");
          }
          case Step.KillStandby k -> {
            count(() -> tally.standbyKills++);
            sites.standby.kill9();
            hold(w, k.acks(), k.down());
            timed(sites.standby);
            healed(sites, w, "standby restarted");
          }
          case Step.ClockStep c -> {
            Path clock = dir.resolve((c.primary() ? "tokyo" : "hiroshima") + ".clock");
            SiteClocks.step(clock, c.seconds());
            hold(w, c.acks(), c.hold());
            healed(sites, w, "a wall-clock step of " + c.seconds() + " s");
            sane(sites.primary, "tokyo after " + c);
            sane(sites.standby, "hiroshima after " + c);
            count(() -> tally.clockSteps++);
          }
          case Step.DiskFull d -> {
            SiteProcess site = d.primary() ? sites.primary : sites.standby;
            String name = d.primary() ? "tokyo" : "hiroshima";
            Path journal = dir.resolve(name + "/journal");
            SmallFilesystems.fill(journal);
            // The fault has taken once the site says so (the writer keeps it busy): it refuses
            // writes, or cannot store batches, with its volume disk-full; or, when the filler got
            // past the space guard into RocksDB's log, the site exits for its supervisor to
            // restart it (status 75).
            boolean exited = awaitFullOrExit(site, name);
            hold(w, d.acks(), d.hold());
            SmallFilesystems.free(journal);
            if (!exited && site.exited().isPresent()) {
              exited = true;
            }
            if (exited) {
              assertThat(site.exited().getAsInt())
                  .as("%s's exit status after its journal broke (its log is below)", name)
                  .isEqualTo(75);
              count(() -> tally.supervisorRestarts++);
              if (d.primary()) {
                writer.join();
                timed(sites.primary);
                restartedWriterSite(sites.primaryNbd, w, "primary restarted after a full disk");
                writer = new WriterRun(w, sites.primaryNbd);
              } else {
                timed(sites.standby);
              }
            }
            healed(sites, w, "freeing the full journal filesystem");
            count(() -> tally.diskFulls++);
          }
          case Step.KillPrimary k -> {
            count(() -> tally.primaryKills++);
            sites.primary.kill9();
            writer.join();
            timed(sites.primary);
            restartedWriterSite(sites.primaryNbd, w, "primary after kill -9 and restart");
            writer = new WriterRun(w, sites.primaryNbd);
            healed(sites, w, "primary restarted");
          }
          case Step.Promote p -> {
            count(
                () -> {
                  tally.promotions++;
                  tally.primaryKills++;
                  tally.standbyKills += p.killPromoted() ? 1 : 0;
                  tally.linkFaults += p.linkCutFirst() ? 1 : 0;
                  tally.failbacks += p.rejoin() ? 1 : 0;
                });
            promoted = failover(sites, w, writer, p);
            probe.assertNeverTwoWriters(start); // already now: the new primary has taken writes
            writer = promoted.writer();
            if (p.rejoin()) {
              writer = rejoin(sites, w, promoted);
              probe.assertNeverTwoWriters(start);
              promoted = null; // tokyo is the primary again, hiroshima its standby: converge below
            }
          }
        }
      }
      w.stop();
      writer.join();
      // The probe writes too (scratch blocks): it stops before the volumes are compared.
      probe.close();
      probe.assertNeverTwoWriters(start);
      if (promoted == null) {
        outcome = converge(sites, w);
      } else {
        int[] now = readVersions(sites.standbyNbd, w, "promoted site at the end");
        promoted.verify(now, "promoted site at the end");
        synchronized (w) {
          for (int b = 0; b < now.length; b++) {
            if (now[b] < w.acked[b]) {
              throw new AssertionError(
                  String.format(
                      "promoted site at the end: block %d (offset 0x%x) lost acknowledged version %d (holds %d)",
                      b, (long) b * BLOCK, w.acked[b], now[b]));
            }
          }
        }
        outcome = "promoted: " + promoted.summary();
      }
      probe.close();
      probe.assertNeverTwoWriters(start);
      long checked = w.ackCount;
      count(() -> tally.ackedWritesChecked += checked);
      return String.format(
          "%d steps, %d writes acked, failed %s, %s, probe accepted: %s, %.1f s (%d site starts %.1f s, promote CLI %.1f s)",
          s.steps().size(),
          w.ackCount,
          w.failures,
          outcome,
          probe.summary(),
          (SystemTime.NANO.nanoTime() - start) / 1e9,
          starts,
          startNanos / 1e9,
          cliNanos / 1e9);
    } catch (Throwable t) {
      System.out.printf(
          "ChaosIT seed=%d: logs in %s%n--- tokyo ---%n%s%n--- hiroshima ---%n%s%n",
          s.seed(), dir, tail(sites.primary.log()), tail(sites.standby.log()));
      throw t;
    } finally {
      w.stop();
      if (probe != null) {
        probe.close();
      }
      sites.close();
      for (int i = mounts.size() - 1; i >= 0; i--) {
        SmallFilesystems.unmount(mounts.get(i));
      }
      try {
        wan.delete(); // one proxy server for all schedules: free the name for the next
      } catch (IOException ignored) {
        // already gone
      }
      deleteTree(dir);
    }
  }

  /**
   * After a failover: the writer on the promoted site; what the site held at promotion ({@code
   * base}); per block the first version written after it ({@code from}); a summary line.
   */
  private record Promoted(WriterRun writer, int[] base, int[] from, String summary) {
    /** A block may hold what it held at promotion or a version written since, nothing else. */
    void verify(int[] versions, String where) {
      for (int b = 0; b < versions.length; b++) {
        if (versions[b] != base[b] && versions[b] < from[b]) {
          throw new AssertionError(
              String.format(
                  "%s: block %d (offset 0x%x) holds version %d, neither the version it held at promotion (%d) nor one written since (>= %d)",
                  where, b, (long) b * BLOCK, versions[b], base[b], from[b]));
        }
      }
    }
  }

  /**
   * The runbook's unplanned failover: fence the primary (kill -9), promote the standby with the
   * real CLI ({@code --force} only when its status says inconsistent), check what it holds, and
   * move the host's writes to it. Returns the writer now running against the promoted site.
   */
  private static Promoted failover(
      TwoSites sites, CrashIT.Writer w, WriterRun writer, Step.Promote p) throws Exception {
    if (p.linkCutFirst()) {
      sites.wanProxy.disable(); // the disaster takes the link first: the standby falls behind
      sites.primary.awaitStatus(
          st -> !st.path("link").path("connected").asBoolean(),
          T,
          "the primary to see the link down");
      hold(w, 100, Duration.ofMillis(300));
    }
    sites.primary.kill9(); // fencing: promotion must never run while the old primary can write
    writer.join();
    int[] ackedBefore;
    synchronized (w) {
      ackedBefore = w.acked.clone();
    }
    boolean inconsistent =
        TwoSites.vol0(sites.standby.status()).path("state").asText().equals("inconsistent");
    // The CLI's own code (picocli, then POST /promote), run in this JVM: a JVM per promotion would
    // cost a second of CPU; PromoteIT runs the same verb as a separate process.
    long cliStart = SystemTime.NANO.nanoTime();
    String admin = "127.0.0.1:" + sites.standbyAdmin;
    int exit =
        inconsistent
            ? Main.run("promote", "--force", "--admin", admin)
            : Main.run("promote", "--admin", admin);
    cliNanos += SystemTime.NANO.nanoTime() - cliStart;
    assertThat(exit)
        .as(
            "kagami promote%s --admin %s exit code (its output is above)",
            inconsistent ? " --force" : "", admin)
        .isZero();
    JsonNode st = sites.standby.status();
    assertThat(st.path("role").asText()).as("role of the promoted site").isEqualTo("primary");

    int[] held = readVersions(sites.standbyNbd, w, "promoted standby");
    boolean sync = TwoSites.vol0(st).path("mode").asText().equals("sync");
    if (sync) {
      for (int b = 0; b < held.length; b++) {
        if (held[b] < ackedBefore[b]) {
          throw new AssertionError(
              String.format(
                  "sync mode lost an acknowledged write in the failover: block %d (offset 0x%x) holds version %d, version %d was acknowledged",
                  b, (long) b * BLOCK, held[b], ackedBefore[b]));
        }
      }
    }
    String prefix;
    if (inconsistent) {
      prefix = "forced over an inconsistent replica (no prefix promise)";
    } else {
      int n = w.assertPrefix(held, "promoted standby (" + (sync ? "sync" : "async") + ")");
      long acked = Arrays.stream(ackedBefore).filter(v -> v > 0).count();
      prefix =
          String.format(
              "holds the first %d of %d writes sent (%d blocks acknowledged)",
              n, w.sent.size(), acked);
    }
    // From here on the promoted site is the only writer: what must hold is what it held at
    // promotion plus what it acknowledges since; versions issued before the promotion but not held
    // are lost for good (async) and must not reappear.
    int[] from = new int[held.length];
    synchronized (w) {
      for (int b = 0; b < held.length; b++) {
        from[b] = w.issued[b] + 1;
        w.acked[b] = held[b];
        w.flushed[b] = held[b];
      }
    }
    WriterRun promoted = new WriterRun(w, sites.standbyNbd);
    progress(w, 100, "writes to the promoted site");
    if (p.killPromoted()) {
      sites.standby.kill9();
      promoted.join();
      timed(sites.standby);
      assertThat(sites.standby.status().path("role").asText())
          .as("a promoted site restarts as primary")
          .isEqualTo("primary");
      int[] after =
          restartedWriterSite(sites.standbyNbd, w, "promoted site after kill -9 and restart");
      new Promoted(promoted, held, from, prefix)
          .verify(after, "promoted site after kill -9 and restart");
      promoted = new WriterRun(w, sites.standbyNbd);
      progress(w, 100, "writes to the restarted promoted site");
    }
    return new Promoted(promoted, held, from, prefix);
  }

  /**
   * The failback and switchover runbooks after a failover: the old primary (down since the
   * failover) is marked for failback while stopped, starts as the standby of the promoted site and
   * is resynchronized; then the host stops writing, {@code kagami switchover} returns production to
   * it, and the host writes there. What the promoted site held and acknowledged must survive.
   */
  private static WriterRun rejoin(TwoSites sites, CrashIT.Writer w, Promoted promoted)
      throws Exception {
    assertThat(Main.run("failback", "--config", sites.dir.resolve("tokyo.yaml").toString()))
        .as("kagami failback --config (its output is above)")
        .isZero();
    sites.wanProxy.enable();
    timed(sites.primary);
    assertThat(sites.primary.status().path("role").asText())
        .as("the old primary restarts as the standby")
        .isEqualTo("standby");
    progress(w, 50, "writes to the promoted site while the old primary rejoins");
    w.stop();
    promoted.writer().join();
    SwitchoverIT.awaitReplicated(sites.standby, sites.primary);
    sites.primary.awaitStatus(
        st -> TwoSites.vol0(st).path("state").asText().equals("replicating"),
        T,
        "the old primary's replica consistent after the failback");
    long cliStart = SystemTime.NANO.nanoTime();
    int exit = Main.run("switchover", "--admin", "127.0.0.1:" + sites.standbyAdmin);
    cliNanos += SystemTime.NANO.nanoTime() - cliStart;
    assertThat(exit).as("kagami switchover back (its output is above)").isZero();
    sites.primary.awaitStatus(
        st ->
            st.path("role").asText().equals("primary")
                && st.path("link").path("connected").asBoolean(),
        T,
        "tokyo primary again, replicating to hiroshima");
    int[] held = readVersions(sites.primaryNbd, w, "tokyo after failback and switchover");
    promoted.verify(held, "tokyo after failback and switchover");
    synchronized (w) {
      for (int b = 0; b < held.length; b++) {
        if (held[b] < w.acked[b]) {
          throw new AssertionError(
              String.format(
                  "tokyo after failback and switchover: block %d (offset 0x%x) lost acknowledged version %d (holds %d)",
                  b, (long) b * BLOCK, w.acked[b], held[b]));
        }
      }
    }
    w.resume();
    WriterRun back = new WriterRun(w, sites.primaryNbd);
    progress(w, 50, "writes to tokyo after the switchover back");
    return back;
  }

  /**
   * Waits (bounded, polling the process over HTTP) until {@code site} reports its volume disk-full
   * or has exited; returns whether it exited.
   */
  private static boolean awaitFullOrExit(SiteProcess site, String name) throws Exception {
    long deadline = SystemTime.NANO.nanoTime() + T.toNanos();
    while (SystemTime.NANO.nanoTime() < deadline) {
      if (site.exited().isPresent()) {
        return true;
      }
      try {
        if (TwoSites.vol0(site.status()).path("state").asText().equals("disk-full")) {
          return false;
        }
      } catch (IOException | RuntimeException notAnswering) {
        // exiting, or busy: look again
      }
      SystemTime.pause(Duration.ofMillis(50));
    }
    throw new AssertionError(
        name + " neither reported its journal full nor exited within " + T.toSeconds() + " s");
  }

  private static List<String> plus(List<String> a, List<String> b) {
    List<String> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  private static void count(Runnable update) {
    synchronized (ChaosIT.class) {
      update.run();
    }
  }

  /**
   * After a wall-clock step: the lag each site reports is neither negative nor the size of the step
   * (a lag computed across two clocks, or across a step, shows up as one or the other).
   */
  private static void sane(SiteProcess site, String where) throws Exception {
    JsonNode vol = TwoSites.vol0(site.status());
    double lag = vol.path("lagSeconds").asDouble(0);
    assertThat(lag).as("%s: lagSeconds %s (status %s)", where, lag, vol).isBetween(0.0, 20.0);
  }

  private static void timed(SiteProcess site) throws IOException {
    long t0 = SystemTime.NANO.nanoTime();
    site.start();
    synchronized (ChaosIT.class) {
      startNanos += SystemTime.NANO.nanoTime() - t0;
      starts++;
    }
  }

  /**
   * Starts both sites at once (each start waits for its admin endpoint), then waits for the link.
   */
  private static void startBoth(TwoSites sites) throws Exception {
    CompletableFuture<Void> standby =
        CompletableFuture.runAsync(
            () -> {
              try {
                timed(sites.standby);
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    timed(sites.primary);
    standby.get(90, TimeUnit.SECONDS);
    sites.primary.awaitStatus(
        st -> st.path("link").path("connected").asBoolean(), T, "the WAN link to connect");
  }

  /**
   * Holds a fault: until {@code acks} more writes are acknowledged or {@code hold} has passed,
   * whichever comes first (a sync volume with its standby cut off acknowledges nothing).
   */
  private static void hold(CrashIT.Writer w, int acks, Duration hold) throws InterruptedException {
    long target;
    synchronized (w) {
      target = w.ackCount + acks;
    }
    w.awaitAcks(target, hold);
  }

  /** Waits (bounded) for {@code n} more acknowledgements: the write path works. */
  private static void progress(CrashIT.Writer w, int n, String what) throws InterruptedException {
    long target;
    synchronized (w) {
      target = w.ackCount + n;
    }
    if (!w.awaitAcks(target, T)) {
      throw new AssertionError(
          "no progress: "
              + what
              + ": fewer than "
              + n
              + " writes acknowledged within "
              + T.toSeconds()
              + " s");
    }
  }

  /** After a fault is lifted: the link comes back and writes flow again (both bounded). */
  private static void healed(TwoSites sites, CrashIT.Writer w, String after) throws Exception {
    sites.primary.awaitStatus(
        st -> st.path("link").path("connected").asBoolean(),
        T,
        "the link to reconnect after " + after);
    progress(w, 50, "writes after " + after);
  }

  /**
   * The only writer site crashed and restarted: everything it acknowledged must be there. Writes in
   * flight at the crash may or may not have survived; those that did not are dropped from the
   * writer's issue order (a replica holding one of them is then caught as "never sent").
   */
  private static int[] restartedWriterSite(int nbdPort, CrashIT.Writer w, String where)
      throws Exception {
    int[] held = readVersions(nbdPort, w, where);
    synchronized (w) {
      for (int b = 0; b < held.length; b++) {
        if (held[b] < w.acked[b]) {
          throw new AssertionError(
              String.format(
                  "%s: block %d (offset 0x%x) lost acknowledged version %d (holds %d)",
                  where, b, (long) b * BLOCK, w.acked[b], held[b]));
        }
      }
    }
    w.forgetUnless(held);
    return held;
  }

  /**
   * Heals everything, waits until the standby applied all, and compares the two volumes byte for
   * byte.
   */
  private static String converge(TwoSites sites, CrashIT.Writer w) throws Exception {
    for (var toxic : sites.wanProxy.toxics().getAll()) {
      toxic.remove();
    }
    sites.wanProxy.enable();
    sites.awaitInSync(T);
    int[] primary = readVersions(sites.primaryNbd, w, "primary at the end");
    synchronized (w) {
      for (int b = 0; b < primary.length; b++) {
        if (primary[b] < w.acked[b]) {
          throw new AssertionError(
              String.format(
                  "primary at the end: block %d (offset 0x%x) lost acknowledged version %d (holds %d)",
                  b, (long) b * BLOCK, w.acked[b], primary[b]));
        }
      }
    }
    try (NbdTestClient p = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0");
        NbdTestClient r = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
      int chunk = 1 << 20;
      for (long off = 0; off < VOLUME; off += chunk) {
        byte[] a = p.read(off, chunk).get(30, TimeUnit.SECONDS);
        byte[] b = r.read(off, chunk).get(30, TimeUnit.SECONDS);
        int at = Arrays.mismatch(a, b);
        if (at >= 0) {
          throw new AssertionError(
              String.format("replica differs from primary at offset 0x%x after healing", off + at));
        }
      }
    }
    return "replica byte-identical";
  }

  /**
   * Every writer block's version on the site at {@code nbdPort} (0 = never written), read in 1 MiB
   * requests; fails on a torn or foreign block.
   */
  private static int[] readVersions(int nbdPort, CrashIT.Writer w, String where) throws Exception {
    int[] out = new int[w.blocks];
    int perChunk = 256;
    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", nbdPort, "vol0")) {
      for (int first = 0; first < w.blocks; first += perChunk) {
        int n = Math.min(perChunk, w.blocks - first);
        ByteBuffer data =
            ByteBuffer.wrap(c.read((long) first * BLOCK, n * BLOCK).get(30, TimeUnit.SECONDS));
        for (int i = 0; i < n; i++) {
          int block = first + i;
          int base = i * BLOCK;
          int gotBlock = data.getInt(base);
          int version = data.getInt(base + 4);
          for (int k = 0; k < BLOCK; k += 8) {
            if (data.getInt(base + k) != gotBlock
                || data.getInt(base + k + 4) != version
                || (version != 0 && gotBlock != block)
                || (version == 0 && gotBlock != 0)) {
              throw new AssertionError(
                  String.format(
                      "%s: block %d is torn or foreign (offset 0x%x)",
                      where, block, (long) block * BLOCK + k));
            }
          }
          out[block] = version;
        }
      }
    }
    return out;
  }

  private static String tail(String log) {
    String[] lines = log.split("\n");
    return String.join(
        "\n", Arrays.copyOfRange(lines, Math.max(0, lines.length - 40), lines.length));
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
