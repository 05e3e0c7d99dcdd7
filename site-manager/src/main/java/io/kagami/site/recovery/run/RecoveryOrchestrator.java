package io.kagami.site.recovery.run;

import io.kagami.clock.NanoClock;
import io.kagami.site.recovery.Launch;
import io.kagami.site.recovery.PlanProblem;
import io.kagami.site.recovery.RecoveryPlan;
import io.kagami.site.recovery.RecoveryProfiles;
import io.kagami.site.recovery.ServerProfile;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Runs {@code kagami recover}: one recovery (or drill) at a time, from a validated plan to a
 * report.
 *
 * <p>One role: a run's life from request to report, and the removal of what it made. The order it
 * keeps: the plan is checked first (a plan with problems is refused, nothing changed); then the
 * disks (a drill clones each server's volumes at one point; a real recovery promotes their owner
 * once, at the point); then each server starts when every server of the earlier priority groups in
 * the run and every server it {@code dependsOn} passed its health check. A server whose dependency
 * (or earlier group) failed is {@link RecoveryReport.Result#BLOCKED}, never started. A server is
 * started up to its {@code attempts} times: an attempt fails when its VM exits or its health check
 * does not pass within {@code timeouts.healthy}; the VM of a failed attempt is stopped.
 *
 * <p>Everything the run makes is written to {@link RunState} before it is made (VMs with pid and
 * start time, drill clones), so {@link #stop} and, after a {@code kill -9}, the next {@link
 * #start()} remove it all. A drill ends by itself after its time-to-live.
 *
 * <p>Threads: every decision and every change of a run happens on {@code kagami-recover}; waits are
 * futures (VM exit, console marker, probe, promotion, drill) whose completions hop onto that
 * thread; deadlines and the time-to-live are {@code kagami-recover-timer} tasks. Public methods may
 * be called from any thread; {@link #stop} and {@link #status} run on {@code kagami-recover} and
 * wait for it (bounded).
 */
public final class RecoveryOrchestrator implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(RecoveryOrchestrator.class.getName());
  private static final Duration CALL_TIMEOUT = Duration.ofMinutes(5);

  private final Path dataDir;
  private final RecoveryDisks disks;
  private final VmLauncher qemu;
  private final VmLauncher libvirt;
  private final InstantSource clock;
  private final NanoClock nanos;
  private ExecutorService executor;
  private ScheduledExecutorService timer;
  private TestedPoints tested;
  private Run run;
  private String lastReport;
  private volatile long lastDrillMillis = -1;
  private volatile Map<String, Integer> serverStates = Map.of();

  public RecoveryOrchestrator(
      Path dataDir,
      RecoveryDisks disks,
      VmLauncher qemu,
      VmLauncher libvirt,
      InstantSource clock,
      NanoClock nanos) {
    this.dataDir = dataDir;
    this.disks = disks;
    this.qemu = qemu;
    this.libvirt = libvirt;
    this.clock = clock;
    this.nanos = nanos;
  }

  /**
   * Starts the threads and removes what a run killed with its site left behind (VMs, drill clones),
   * writing that run's report as {@code aborted} if it had none.
   */
  public void start() {
    executor =
        Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("kagami-recover").daemon(true).factory());
    timer =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("kagami-recover-timer").daemon(true).factory());
    try {
      tested = new TestedPoints(dataDir);
      for (TestedPoints.Tested t : tested.all().values()) {
        lastDrillMillis = Math.max(lastDrillMillis, Instant.parse(t.testedAt()).toEpochMilli());
      }
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException(
          "cannot read " + dataDir.resolve("recovery/tested.json") + ": " + e.getMessage(), e);
    }
    onThread(this::cleanUpLeftovers);
  }

  // ---- requests -------------------------------------------------------------------------------

  /**
   * Starts a run of {@code request} against {@code plan} (checked first: refused with its problems)
   * and returns its report's future. Refused while another run is under way or still holds VMs.
   */
  public Started run(RecoveryPlan plan, RecoveryProfiles profiles, RecoveryRequest request) {
    return onThread(() -> begin(plan, profiles, request));
  }

  /** A run that started: its id, and its report once every server settled. */
  public record Started(String id, CompletableFuture<RecoveryReport> report) {}

  /**
   * The report of run {@code id}: the current run's future, or a finished run's report file
   * (completed with its JSON text); null when there is no such run.
   */
  public CompletableFuture<?> report(String id) {
    return onThread(
        () -> {
          if (run != null && run.id.equals(id)) {
            return run.report;
          }
          Path f = reportFile(id);
          if (!id.matches("[A-Za-z0-9-]+") || !Files.exists(f)) {
            return null;
          }
          try {
            return CompletableFuture.completedFuture(RunState.json().readTree(f.toFile()));
          } catch (IOException e) {
            throw new IllegalStateException("cannot read " + f + ": " + e.getMessage(), e);
          }
        });
  }

  /** Stops the run: every VM, drill clone and timer it made; returns what was removed. */
  public Map<String, Object> stop(String why) {
    return onThread(() -> stopNow(why));
  }

  /** The current or last run and each server's last tested point. */
  public Map<String, Object> status() {
    return onThread(this::statusNow);
  }

  /** Servers of the current run by state (for metrics). */
  public Map<String, Integer> serverStates() {
    return serverStates;
  }

  /** When a drill last proved a server bootable (epoch ms), or -1. */
  public long lastDrillMillis() {
    return lastDrillMillis;
  }

  private <T> T onThread(Supplier<T> work) {
    try {
      return CompletableFuture.supplyAsync(work, executor)
          .get(CALL_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      throw new IllegalStateException(e.getCause());
    } catch (TimeoutException e) {
      throw new IllegalStateException("the recovery orchestrator did not answer within 5 min");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private void onThreadLater(Runnable work) {
    if (!executor.isShutdown()) {
      executor.execute(work);
    }
  }

  // ---- a run ----------------------------------------------------------------------------------

  /** Every state {@link #serverStates()} counts, for metrics. */
  public static final List<String> STATES =
      List.of("waiting", "preparing", "starting", "healthy", "failed", "blocked", "stopped");

  private enum Phase {
    WAITING,
    PREPARING,
    STARTING,
    HEALTHY,
    FAILED,
    BLOCKED,
    STOPPED
  }

  private final class Server {
    final ServerProfile profile;
    final int priority;
    final List<String> dependsOn;
    final CompletableFuture<Void> healthy = new CompletableFuture<>();
    Phase phase = Phase.WAITING;
    String reason;
    List<String> blockedBy = List.of();
    RecoveryDisks.Prepared prepared;
    int attempts;
    VmLauncher.RunningVm vm;
    Path console;
    long gateNanos = -1;
    long launchNanos = -1;
    long runningNanos = -1;
    long firstOutputNanos = -1;
    long healthyNanos = -1;
    Instant bootStartedAt;
    Instant healthyAt;
    CompletableFuture<?> attemptDone;

    Server(ServerProfile profile, int priority, List<String> dependsOn) {
      this.profile = profile;
      this.priority = priority;
      this.dependsOn = dependsOn;
    }

    String name() {
      return profile.name();
    }

    boolean settled() {
      return phase == Phase.HEALTHY
          || phase == Phase.FAILED
          || phase == Phase.BLOCKED
          || phase == Phase.STOPPED;
    }
  }

  private final class Run {
    final String id;
    final RecoveryRequest request;
    final RecoveryProfiles profiles;
    final Instant requestedAt;
    final long requestedNanos;
    final Path dir;
    final ConsoleTail tail;
    final Map<String, Server> servers = new LinkedHashMap<>();
    final List<String> bootOrder = new ArrayList<>();
    final List<String> drills = new ArrayList<>();
    final List<RunState.Vm> vms = new ArrayList<>();
    final List<String> notes = new ArrayList<>();
    final CompletableFuture<RecoveryReport> report = new CompletableFuture<>();
    Instant expiresAt;
    ScheduledFuture<?> ttl;
    boolean finished;

    Run(String id, RecoveryRequest request, RecoveryProfiles profiles, Instant at, long nanosAt)
        throws IOException {
      this.id = id;
      this.request = request;
      this.profiles = profiles;
      this.requestedAt = at;
      this.requestedNanos = nanosAt;
      this.dir = dataDir.resolve("recovery").resolve("runs").resolve(id);
      this.tail = new ConsoleTail(dir);
    }

    void persist() {
      try {
        new RunState(
                RunState.VERSION,
                id,
                request.drill(),
                requestedAt.toString(),
                expiresAt == null ? null : expiresAt.toString(),
                vms,
                drills)
            .write(dataDir);
      } catch (IOException e) {
        LOG.log(Level.ERROR, "recovery {0}: cannot persist its state: {1}", id, e.getMessage());
      }
    }
  }

  private Started begin(RecoveryPlan plan, RecoveryProfiles profiles, RecoveryRequest request) {
    if (run != null) {
      throw new RecoveryRefused(
          (run.request.drill() ? "drill " : "recovery ")
              + run.id
              + " is "
              + (run.finished ? "still holding its VMs" : "under way")
              + ": run kagami recover stop first");
    }
    if (!plan.ok() || profiles == null) {
      List<String> problems = new ArrayList<>();
      for (PlanProblem p : plan.problems()) {
        problems.add(p.message());
      }
      throw new RecoveryRefused(
          "the recovery plan has "
              + (problems.size() == 1 ? "1 problem" : problems.size() + " problems")
              + " (kagami recover plan shows them); nothing was started:\n  - "
              + String.join("\n  - ", problems));
    }
    Map<String, ServerProfile> byName = new LinkedHashMap<>();
    profiles.servers().forEach(s -> byName.put(s.name(), s));
    for (String name : request.servers()) {
      if (!byName.containsKey(name)) {
        throw new RecoveryRefused(
            "no server "
                + name
                + " in "
                + profiles.source()
                + " (servers: "
                + String.join(", ", byName.keySet())
                + ")");
      }
    }
    Instant at = clock.instant();
    String id =
        (request.drill() ? "drill-" : "recovery-")
            + at.toString().replace(":", "").replace(".", "-");
    Run r;
    try {
      r = new Run(id, request, profiles, at, nanos.nanoTime());
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot create the run's directory under " + dataDir + ": " + e.getMessage(), e);
    }
    for (RecoveryPlan.Server s : plan.servers()) {
      if (request.all() || request.servers().contains(s.name())) {
        List<String> deps = new ArrayList<>();
        for (String d : s.dependsOn()) {
          if (request.all() || request.servers().contains(d)) {
            deps.add(d);
          } else {
            r.notes.add(
                "server "
                    + s.name()
                    + " depends on "
                    + d
                    + ", which is not part of this run: it is assumed to be up");
          }
        }
        r.servers.put(s.name(), new Server(byName.get(s.name()), s.priority(), deps));
      }
    }
    if (request.drill()) {
      Duration ttl = request.ttl() == null ? RecoveryRequest.DEFAULT_TTL : request.ttl();
      r.expiresAt = at.plus(ttl);
      r.ttl =
          timer.schedule(
              () -> onThreadLater(() -> expire(r)), ttl.toMillis(), TimeUnit.MILLISECONDS);
    }
    run = r;
    r.tail.start();
    r.persist();
    LOG.log(
        Level.WARNING,
        "{0} {1} started for {2}: {3}",
        request.drill() ? "drill" : "recovery",
        id,
        String.join(", ", r.servers.keySet()),
        pointAsked(request));
    publishStates();
    prepare(r);
    return new Started(r.id, r.report);
  }

  private static String pointAsked(RecoveryRequest q) {
    return q.seq() != null
        ? "seq " + q.seq()
        : q.at() != null ? "at " + q.at() : "the newest point each replica holds";
  }

  /** Disks first: a drill's clones server by server, or the one promotion of a real recovery. */
  private void prepare(Run r) {
    r.servers.values().forEach(s -> s.phase = Phase.PREPARING);
    if (r.request.drill()) {
      prepareDrill(r, new ArrayList<>(r.servers.values()), 0, r.request.seq(), r.request.at());
    } else {
      List<String> volumes = new ArrayList<>();
      r.servers.values().forEach(s -> volumes.addAll(s.profile.volumes()));
      disks
          .promoter()
          .promote(volumes, r.request.seq(), r.request.at())
          .whenCompleteAsync(
              (p, e) -> {
                for (Server s : r.servers.values()) {
                  if (e != null) {
                    fail(s, "promotion failed: " + cause(e).getMessage());
                  } else {
                    s.prepared = only(p, s.profile.volumes());
                  }
                }
                schedule(r);
              },
              executor);
    }
  }

  private static RecoveryDisks.Prepared only(RecoveryDisks.Prepared p, List<String> volumes) {
    List<RecoveryDisks.Point> mine = new ArrayList<>();
    for (String v : volumes) {
      p.points().stream().filter(x -> x.volume().equals(v)).forEach(mine::add);
    }
    return new RecoveryDisks.Prepared(mine, p.prepareNanos(), p.exportNanos());
  }

  private void prepareDrill(Run r, List<Server> servers, int i, Long seq, Instant at) {
    if (r.finished) {
      return;
    }
    if (i == servers.size()) {
      schedule(r);
      return;
    }
    Server s = servers.get(i);
    // Drills are recorded before they start: a crash in between leaves at most a name to stop.
    r.drills.addAll(s.profile.volumes());
    r.persist();
    disks
        .drill(s.profile.volumes(), seq, at)
        .whenCompleteAsync(
            (p, e) -> {
              Long nextSeq = seq;
              Instant nextAt = at;
              if (e != null) {
                fail(s, "drill clone failed: " + cause(e).getMessage());
              } else {
                s.prepared = p;
                // One point for the whole run: the next servers at this server's point in time.
                if (seq != null && !p.points().isEmpty()) {
                  nextSeq = null;
                  nextAt = p.points().getFirst().time();
                }
              }
              prepareDrill(r, servers, i + 1, nextSeq, nextAt);
            },
            executor);
  }

  /** Gates every server on its dependencies and on the earlier groups of the run. */
  private void schedule(Run r) {
    if (r.finished) {
      return;
    }
    for (Server s : r.servers.values()) {
      List<Server> before = new ArrayList<>();
      for (Server o : r.servers.values()) {
        if (o != s && (o.priority < s.priority || s.dependsOn.contains(o.name()))) {
          before.add(o);
        }
      }
      CompletableFuture<?>[] gates =
          before.stream().map(o -> o.healthy).toArray(CompletableFuture[]::new);
      CompletableFuture.allOf(gates)
          .whenCompleteAsync(
              (v, e) -> {
                if (s.settled() || r.finished) {
                  return;
                }
                List<String> failed = new ArrayList<>();
                for (Server o : before) {
                  if (o.healthy.isCompletedExceptionally()) {
                    failed.add(o.name());
                  }
                }
                guarded(
                    r,
                    s,
                    () -> {
                      if (!failed.isEmpty()) {
                        block(r, s, failed);
                      } else {
                        s.gateNanos = nanos.nanoTime();
                        attempt(r, s);
                      }
                    });
              },
              executor);
    }
    settle(r);
  }

  private void block(Run r, Server s, List<String> failed) {
    s.phase = Phase.BLOCKED;
    s.blockedBy = List.copyOf(failed);
    s.reason =
        "not started: "
            + String.join(", ", failed)
            + (failed.size() == 1 ? " did" : " did")
            + " not pass "
            + (failed.size() == 1 ? "its" : "their")
            + " health check"
            + (s.dependsOn.stream().anyMatch(failed::contains)
                ? ""
                : " (an earlier priority group)");
    LOG.log(Level.WARNING, "recovery {0}: server {1} BLOCKED: {2}", r.id, s.name(), s.reason);
    s.healthy.completeExceptionally(new IllegalStateException(s.reason));
    settle(r);
  }

  private void fail(Server s, String reason) {
    s.phase = Phase.FAILED;
    s.reason = reason;
    LOG.log(Level.WARNING, "recovery: server {0} FAILED: {1}", s.name(), reason);
    s.healthy.completeExceptionally(new IllegalStateException(reason));
  }

  /** One start of {@code s}'s VM, racing its health check against its exit and its deadline. */
  private void attempt(Run r, Server s) {
    if (s.prepared == null) {
      if (!s.settled()) {
        fail(s, "its disks were not prepared");
      }
      settle(r);
      return;
    }
    s.attempts++;
    s.phase = Phase.STARTING;
    s.console = r.dir.resolve(s.name() + "-" + s.attempts + ".console");
    Launch launch =
        new Launch(
            disks.nbdHost(),
            disks.nbdPort(),
            r.request.drill(),
            r.dir.resolve(s.name() + ".nvram.fd"),
            s.console);
    VmLauncher launcher = r.request.libvirt() ? libvirt : qemu;
    if (!r.bootOrder.contains(s.name())) {
      r.bootOrder.add(s.name());
    }
    s.bootStartedAt = clock.instant();
    s.launchNanos = nanos.nanoTime();
    CompletableFuture<Void> firstOutput = r.tail.firstOutput(s.console);
    CompletableFuture<Void> health =
        HealthWatch.watch(s.profile.healthCheck(), s.console, r.tail, timer);
    CompletableFuture<String> bootFailure = r.tail.anyMarker(s.console, s.profile.bootFailure());
    try {
      s.vm = launcher.launch(new VmLauncher.Spec(r.id, s.attempts, s.profile, r.profiles, launch));
    } catch (IOException | RuntimeException e) {
      health.cancel(false);
      endAttempt(r, s, "its VM could not be started: " + e.getMessage());
      return;
    }
    s.runningNanos = nanos.nanoTime();
    Instant processStart = s.vm.processStart(); // once: null as soon as the process has gone
    r.vms.add(
        new RunState.Vm(
            s.name(),
            s.attempts,
            s.vm.pid(),
            processStart == null ? null : processStart.toString(),
            s.vm.domain()));
    r.persist();
    publishStates();
    LOG.log(
        Level.INFO,
        "recovery {0}: server {1} started (attempt {2}{3}), waiting for {4} within {5}",
        r.id,
        s.name(),
        s.attempts,
        s.vm.pid() > 0 ? ", pid " + s.vm.pid() : ", domain " + s.vm.domain(),
        s.profile.healthCheck().describe(),
        s.profile.timeouts().healthy());
    firstOutput.thenRunAsync(
        () -> {
          if (s.firstOutputNanos < 0 && s.phase == Phase.STARTING) {
            s.firstOutputNanos = nanos.nanoTime();
          }
        },
        executor);
    CompletableFuture<String> outcome = new CompletableFuture<>();
    s.attemptDone = outcome;
    health.whenComplete((v, e) -> outcome.complete(e == null ? null : cause(e).getMessage()));
    s.vm
        .exited()
        .thenAccept(
            code ->
                outcome.complete(
                    "its VM exited (code " + code + ") before its health check passed"));
    // A boot that said it failed (a panic, an initramfs without its root disk) fails now, not at
    // the health timeout: its dependants' verdict, and the operator's next step, are minutes
    // nearer.
    bootFailure.thenAccept(
        line -> outcome.complete("its console says the boot failed: \"" + line + "\""));
    ScheduledFuture<?> deadline =
        timer.schedule(
            () ->
                outcome.complete(
                    "its health check ("
                        + s.profile.healthCheck().describe()
                        + ") did not pass within "
                        + s.profile.timeouts().healthy()),
            s.profile.timeouts().healthy().toMillis(),
            TimeUnit.MILLISECONDS);
    VmLauncher.RunningVm vm = s.vm;
    outcome.thenAcceptAsync(
        failure -> {
          deadline.cancel(false);
          health.cancel(false);
          if (r.finished || s.vm != vm || s.phase != Phase.STARTING) {
            return;
          }
          guarded(
              r,
              s,
              () -> {
                if (failure == null) {
                  healthy(r, s);
                } else {
                  vm.stop(s.profile.timeouts().shutdown());
                  endAttempt(r, s, failure);
                }
              });
        },
        executor);
  }

  /**
   * Runs a step of {@code s}; a step that throws (a bug, or the machine refusing something
   * unexpected) fails the server with the error instead of leaving the run waiting forever.
   */
  private void guarded(Run r, Server s, Runnable step) {
    try {
      step.run();
    } catch (RuntimeException e) {
      LOG.log(Level.ERROR, "recovery " + r.id + ": server " + s.name() + ": unexpected error", e);
      if (!s.settled()) {
        if (s.vm != null) {
          s.vm.stop(s.profile.timeouts().shutdown());
        }
        fail(s, "unexpected error: " + e);
      }
      settle(r);
    }
  }

  private void healthy(Run r, Server s) {
    s.healthyNanos = nanos.nanoTime();
    s.healthyAt = clock.instant();
    if (s.firstOutputNanos < 0) {
      s.firstOutputNanos = s.healthyNanos;
    }
    s.phase = Phase.HEALTHY;
    LOG.log(
        Level.INFO,
        "recovery {0}: server {1} is healthy ({2}), {3} ms after the request",
        r.id,
        s.name(),
        s.profile.healthCheck().describe(),
        (s.healthyNanos - r.requestedNanos) / 1_000_000);
    s.healthy.complete(null);
    settle(r);
  }

  private void endAttempt(Run r, Server s, String failure) {
    LOG.log(
        Level.WARNING,
        "recovery {0}: server {1}, attempt {2} of {3}: {4}",
        r.id,
        s.name(),
        s.attempts,
        s.profile.timeouts().attempts(),
        failure);
    if (s.console != null) {
      r.tail.forget(s.console);
    }
    if (s.attempts < s.profile.timeouts().attempts() && !r.finished) {
      s.firstOutputNanos = -1;
      attempt(r, s);
      return;
    }
    fail(
        s, failure + (s.attempts > 1 ? " (attempt " + s.attempts + " of " + s.attempts + ")" : ""));
    settle(r);
  }

  /** Once every server settled: the report, the tested points, the run stays for its VMs. */
  private void settle(Run r) {
    publishStates();
    if (r.finished || !r.servers.values().stream().allMatch(Server::settled)) {
      return;
    }
    r.finished = true;
    RecoveryReport report = report(r, null);
    write(report);
    if (r.request.drill()) {
      for (RecoveryReport.Server s : report.servers()) {
        if (s.result() == RecoveryReport.Result.HEALTHY && s.point() != null) {
          try {
            tested.mark(
                s.name(),
                new TestedPoints.Tested(r.id, s.healthyAt(), s.point().seq(), s.point().time()));
            lastDrillMillis = Instant.parse(s.healthyAt()).toEpochMilli();
          } catch (IOException e) {
            LOG.log(Level.ERROR, "cannot record the tested point of {0}: {1}", s.name(), e);
          }
        }
      }
    }
    LOG.log(
        Level.WARNING,
        "{0} {1}: {2}; boot order {3}; report {4}",
        r.request.drill() ? "drill" : "recovery",
        r.id,
        report.result(),
        report.bootOrder(),
        reportFile(r.id));
    r.report.complete(report);
  }

  private Path reportFile(String id) {
    return dataDir.resolve("recovery").resolve("reports").resolve(id + ".json");
  }

  private void write(RecoveryReport report) {
    try {
      RunState.writeJson(reportFile(report.id()), report);
      lastReport = report.id();
    } catch (IOException e) {
      LOG.log(Level.ERROR, "cannot write the report {0}: {1}", report.id(), e.getMessage());
    }
  }

  private RecoveryReport report(Run r, String result) {
    List<RecoveryReport.Server> out = new ArrayList<>();
    boolean ok = true;
    for (Server s : r.servers.values()) {
      RecoveryReport.Result res =
          switch (s.phase) {
            case HEALTHY -> RecoveryReport.Result.HEALTHY;
            case BLOCKED -> RecoveryReport.Result.BLOCKED;
            case FAILED -> RecoveryReport.Result.FAILED;
            default -> RecoveryReport.Result.STOPPED;
          };
      ok &= res == RecoveryReport.Result.HEALTHY;
      RecoveryDisks.Point point =
          s.prepared == null || s.prepared.points().isEmpty()
              ? null
              : s.prepared.points().getFirst();
      // A point written after the request (a drill of the newest point while its primary writes:
      // the clone is taken a moment after the request) lacks nothing the request could expect.
      Long rpo =
          point == null || point.time() == null
              ? null
              : Math.max(0, Duration.between(point.time(), r.requestedAt).toMillis());
      boolean up = s.phase == Phase.HEALTHY;
      out.add(
          new RecoveryReport.Server(
              s.name(),
              s.priority,
              s.dependsOn,
              res,
              s.reason,
              s.blockedBy,
              point == null ? null : RecoveryReport.Point.of(point),
              s.prepared == null
                  ? List.of()
                  : s.prepared.points().stream().map(RecoveryReport.Point::of).toList(),
              rpo,
              s.bootStartedAt == null ? null : s.bootStartedAt.toString(),
              s.healthyAt == null ? null : s.healthyAt.toString(),
              up ? millis(s.healthyNanos - r.requestedNanos) : null,
              new RecoveryReport.Breakdown(
                  s.prepared == null ? null : millis(s.prepared.prepareNanos()),
                  s.prepared == null ? null : millis(s.prepared.exportNanos()),
                  s.runningNanos < 0 ? null : millis(s.runningNanos - s.launchNanos),
                  up ? millis(s.firstOutputNanos - s.runningNanos) : null,
                  up ? millis(s.healthyNanos - s.firstOutputNanos) : null),
              s.attempts,
              s.profile.healthCheck().describe(),
              s.console == null ? null : s.console.toString()));
    }
    return new RecoveryReport(
        r.id,
        r.request.drill() ? "drill" : "recovery",
        r.requestedAt.toString(),
        clock.instant().toString(),
        pointAsked(r.request),
        result != null ? result : ok ? "ok" : "failed",
        r.bootOrder,
        out,
        r.notes);
  }

  private static long millis(long nanos) {
    return nanos / 1_000_000;
  }

  private static Throwable cause(Throwable e) {
    while ((e instanceof java.util.concurrent.CompletionException
            || e instanceof ExecutionException)
        && e.getCause() != null) {
      e = e.getCause();
    }
    return e;
  }

  // ---- stop, time-to-live, leftovers ------------------------------------------------------------

  private void expire(Run r) {
    if (run == r) {
      LOG.log(
          Level.WARNING,
          "drill {0}: its time-to-live ended at {1}: stopping it",
          r.id,
          r.expiresAt);
      stopNow("its time-to-live ended");
    }
  }

  private Map<String, Object> stopNow(String why) {
    Run r = run;
    if (r == null) {
      throw new RecoveryRefused("no recovery or drill is running here");
    }
    if (r.ttl != null) {
      r.ttl.cancel(false);
    }
    List<String> vmsStopped = new ArrayList<>();
    for (Server s : r.servers.values()) {
      if (!s.settled()) {
        s.phase = Phase.STOPPED;
        s.reason = "the run was stopped: " + why;
        s.healthy.completeExceptionally(new IllegalStateException(s.reason));
      }
    }
    List<Thread> stopping = new ArrayList<>();
    for (Server s : r.servers.values()) {
      VmLauncher.RunningVm vm = s.vm;
      if (vm != null) {
        vmsStopped.add(
            s.name() + (vm.pid() > 0 ? " (pid " + vm.pid() + ")" : " (" + vm.domain() + ")"));
        stopping.add(Thread.ofVirtual().start(() -> vm.stop(s.profile.timeouts().shutdown())));
      }
    }
    for (Thread t : stopping) {
      try {
        t.join(Duration.ofMinutes(3));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    List<String> drillsStopped = new ArrayList<>();
    for (String v : r.drills) {
      try {
        if (disks.stopDrill(v)) {
          drillsStopped.add(v);
        }
      } catch (RuntimeException e) {
        LOG.log(
            Level.WARNING, "drill {0}: stopping the clone of {1}: {2}", r.id, v, e.getMessage());
      }
    }
    r.tail.close();
    if (!r.finished) {
      r.finished = true;
      RecoveryReport report = report(r, "stopped");
      write(report);
      r.report.complete(report);
    }
    run = null;
    try {
      RunState.clear(dataDir);
    } catch (IOException e) {
      LOG.log(Level.ERROR, "cannot remove {0}: {1}", RunState.file(dataDir), e.getMessage());
    }
    publishStates();
    LOG.log(
        Level.WARNING,
        "{0} {1} stopped ({2}): VMs {3}, drill clones {4}",
        r.request.drill() ? "drill" : "recovery",
        r.id,
        why,
        vmsStopped,
        drillsStopped);
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("id", r.id);
    out.put("kind", r.request.drill() ? "drill" : "recovery");
    out.put("why", why);
    out.put("vmsStopped", vmsStopped);
    out.put("drillsStopped", drillsStopped);
    out.put("report", lastReport);
    return out;
  }

  /** A run killed with its site: stop its VMs (only the very processes it started), its drills. */
  private Void cleanUpLeftovers() {
    RunState left;
    try {
      left = RunState.read(dataDir);
    } catch (IOException | RuntimeException e) {
      LOG.log(
          Level.ERROR,
          "cannot read {0} ({1}): VMs of an earlier recovery may still run",
          RunState.file(dataDir),
          e.getMessage());
      return null;
    }
    if (left == null) {
      return null;
    }
    List<String> removed = new ArrayList<>();
    for (RunState.Vm vm : left.vms()) {
      if (vm.domain() != null) {
        LibvirtLauncher.undefine(vm.domain());
        removed.add("domain " + vm.domain());
        continue;
      }
      ProcessHandle.of(vm.pid())
          .filter(
              p ->
                  vm.processStart() != null
                      && p.info()
                          .startInstant()
                          .map(i -> i.toString().equals(vm.processStart()))
                          .orElse(false))
          .ifPresent(
              p -> {
                ProcessVm.stop(p, Duration.ofSeconds(10));
                removed.add(vm.server() + " (pid " + vm.pid() + ")");
              });
    }
    for (String v : left.drills()) {
      try {
        if (disks.stopDrill(v)) {
          removed.add("drill clone of " + v);
        }
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "drill clone of {0}: {1}", v, e.getMessage());
      }
    }
    if (!Files.exists(reportFile(left.id()))) {
      write(
          new RecoveryReport(
              left.id(),
              left.drill() ? "drill" : "recovery",
              left.requestedAt(),
              clock.instant().toString(),
              null,
              "aborted",
              List.of(),
              List.of(),
              List.of(
                  "the site stopped before this run ended; at its restart Kagami removed: "
                      + (removed.isEmpty()
                          ? "nothing left running"
                          : String.join(", ", removed)))));
    }
    try {
      RunState.clear(dataDir);
    } catch (IOException e) {
      LOG.log(Level.ERROR, "cannot remove {0}: {1}", RunState.file(dataDir), e.getMessage());
    }
    LOG.log(
        Level.WARNING,
        "{0} {1} was left by a site that stopped without ending it; removed: {2}",
        left.drill() ? "drill" : "recovery",
        left.id(),
        removed.isEmpty() ? "nothing was left running" : String.join(", ", removed));
    return null;
  }

  // ---- views ----------------------------------------------------------------------------------

  private void publishStates() {
    Map<String, Integer> counts = new TreeMap<>();
    for (Phase p : Phase.values()) {
      counts.put(p.name().toLowerCase(java.util.Locale.ROOT), 0);
    }
    Run r = run;
    if (r != null) {
      for (Server s : r.servers.values()) {
        counts.merge(s.phase.name().toLowerCase(java.util.Locale.ROOT), 1, Integer::sum);
      }
    }
    serverStates = Map.copyOf(counts);
  }

  private Map<String, Object> statusNow() {
    Map<String, Object> out = new LinkedHashMap<>();
    Run r = run;
    if (r == null) {
      out.put("running", null);
    } else {
      Map<String, Object> cur = new LinkedHashMap<>();
      cur.put("id", r.id);
      cur.put("kind", r.request.drill() ? "drill" : "recovery");
      cur.put("phase", r.finished ? "booted" : "booting");
      cur.put("requestedAt", r.requestedAt.toString());
      cur.put("expiresAt", r.expiresAt == null ? null : r.expiresAt.toString());
      cur.put("bootOrder", List.copyOf(r.bootOrder));
      List<Map<String, Object>> servers = new ArrayList<>();
      for (Server s : r.servers.values()) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", s.name());
        m.put("state", s.phase.name().toLowerCase(java.util.Locale.ROOT));
        m.put("attempts", s.attempts);
        m.put("pid", s.vm == null ? null : s.vm.pid());
        m.put("reason", s.reason);
        servers.add(m);
      }
      cur.put("servers", servers);
      out.put("running", cur);
    }
    out.put("lastReport", lastReport);
    out.put("lastTested", tested.all());
    return out;
  }

  @Override
  public void close() {
    if (executor == null) {
      return;
    }
    try {
      if (run != null) {
        onThread(() -> stopNow("the site is shutting down"));
      }
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "stopping the recovery at shutdown: {0}", e.getMessage());
    }
    timer.shutdownNow();
    executor.shutdownNow();
  }
}
