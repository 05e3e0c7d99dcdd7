package io.kagami.site.failover;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.kagami.failover.Decision;
import io.kagami.failover.FailoverConfig;
import io.kagami.failover.FailoverPolicy;
import io.kagami.site.auth.BearerToken;
import io.kagami.site.fence.FenceAgent;
import io.kagami.failover.fence.FenceResult;
import io.kagami.failover.heartbeat.Heartbeat;
import io.kagami.failover.heartbeat.HeartbeatTracker;
import io.kagami.failover.monitor.MonitorConfig;
import io.kagami.failover.monitor.MonitorTracker;
import io.kagami.site.monitor.Probe;
import io.kagami.failover.monitor.ProbeResult;
import io.kagami.failover.witness.LeaseReply;
import io.kagami.site.witness.WitnessClient;
import io.kagami.site.admin.FailoverControl;
import io.kagami.site.config.FailoverSettings;
import io.kagami.site.config.Role;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Drives a {@link FailoverPolicy} with the site's real observations and carries out its
 * decisions. One scheduled thread ({@code kagami-failover}) decides every {@link #checkInterval()}
 * under one lock; everything that blocks runs elsewhere, so a hung witness or fence agent never
 * delays a decision:
 *
 * <ul>
 *   <li>heartbeat path {@code wan}: the WAN link being connected (its own frames and idle
 *       heartbeats keep it honest);
 *   <li>heartbeat path {@code admin}: {@code POST /heartbeat} to the peer's admin port every
 *       heartbeat interval, answered with the peer's heartbeat (virtual threads);
 *   <li>lease renewals at the witness, sent every heartbeat interval while the policy holds the lease
 *       (virtual threads; the send instant is what counts as evidence);
 *   <li>application monitors on the primary, each probed every {@code monitorInterval};
 *   <li>actions (claim, fence agent, promotion, step-down) one at a time on {@code
 *       kagami-failover-action}.
 * </ul>
 *
 * <p>Self-fencing: the controller publishes the end of the primary's lease evidence to the
 * {@link WriteFence} after every decision and every lease answer; {@link FencedDevice} checks that
 * deadline for every write, so writes stop when the evidence runs out, not a tick later.
 *
 * <p>Automatic failover: the standby claims the lease only after the peer has been silent on every
 * path for {@code peerLostAfter}, runs the fence agent (if configured) and waits for its success,
 * then promotes through {@link Promoter} (the site's ordinary promotion). Never in maintenance mode.
 * A site promoted by hand while automatic failover is on claims the lease before it writes.
 */
public final class FailoverController implements AutoCloseable, FailoverControl {
  private static final System.Logger LOG = System.getLogger(FailoverController.class.getName());
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int RECENT_DECISIONS = 12;
  /** Pause after a failed claim, fence or promotion before the next attempt, so a failing agent is not run in a loop. */
  private static final Duration RETRY_PAUSE = Duration.ofSeconds(2);

  /** Promotes the site (its ordinary promotion, not forced); throws {@code Promotion.RefusedException} with the reason. */
  public interface Promoter {
    Object promote();
  }

  private final FailoverSettings settings;
  private final FailoverConfig config;
  private final String siteId;
  private final String peerSiteId;
  private final Path dataDir;
  private final InstantSource wall;
  private final MonotonicClock clock;
  private final Supplier<Role> siteRole;
  private final BooleanSupplier wanConnected;
  private final Promoter promoter;
  private final WriteFence fence;
  private final Duration checkInterval;
  private final Object lock = new Object();
  private final AtomicBoolean heartbeatInFlight = new AtomicBoolean();
  private final AtomicBoolean renewInFlight = new AtomicBoolean();
  private final Map<String, AtomicBoolean> probeInFlight = new ConcurrentHashMap<>();

  // guarded by lock
  private FailoverPolicy policy;
  private boolean maintenance;
  private boolean promotingOurselves;
  private boolean claimAfterManualPromotion;
  /** The term of a lease to release at the witness: this primary stepped down in place (switchover, failback); 0 = none. */
  private long releaseAfterDemotion;
  private boolean actionInFlight;
  private boolean decideAfterAction;
  private long actionNotBeforeNanos;
  private String decisionType;
  private Decision decision;
  private final Deque<FailoverStatus.DecisionChange> recent = new ArrayDeque<>();
  private boolean fencedLogged;
  private String witnessLastReply;
  private String witnessError;
  private long lastGrantNanos;
  private boolean lastGrantSeen;
  private String heartbeatError;
  private String lastFence;
  private String lastAction;
  private boolean shortLeaseWarned;

  private ScheduledExecutorService timer;
  private ExecutorService actions;
  private ExecutorService io;
  private WitnessClient witness;
  private HttpClient http;
  private volatile boolean closed;

  public FailoverController(
      FailoverSettings settings, String siteId, String peerSiteId, Path dataDir, InstantSource wall, Supplier<Role> siteRole, BooleanSupplier wanConnected, Promoter promoter) {
    this.settings = settings;
    this.config = settings.policy();
    this.siteId = siteId;
    this.peerSiteId = peerSiteId;
    this.dataDir = dataDir;
    this.wall = wall;
    this.clock = new MonotonicClock(wall);
    this.siteRole = siteRole;
    this.wanConnected = wanConnected;
    this.promoter = promoter;
    long quarter = config.heartbeatInterval().toMillis() / 4;
    this.checkInterval = Duration.ofMillis(Math.max(20, Math.min(250, quarter)));
    Role role = siteRole.get();
    FailoverStateFile state;
    try {
      state = FailoverStateFile.read(dataDir, role == Role.PRIMARY ? 1 : 0);
    } catch (IOException | RuntimeException e) {
      throw new IllegalStateException("site " + siteId + ": cannot read " + dataDir.resolve(FailoverStateFile.FILE) + ": " + e.getMessage(), e);
    }
    this.maintenance = state.maintenance();
    this.policy = role == Role.PRIMARY
        ? FailoverPolicy.primary(config, siteId, Math.max(1, state.term()), clock)
        : FailoverPolicy.standby(config, siteId, state.term(), clock);
    policy.setMaintenance(maintenance);
    this.fence = new WriteFence("no lease evidence yet (the witness has not renewed this primary's lease and the standby has not answered a heartbeat)");
    if (!config.autoFailover()) {
      fence.openUnlimited();
    }
  }

  /** The gate every export of this site is put behind ({@link FencedDevice}). */
  public WriteFence writeFence() {
    return fence;
  }

  public Duration checkInterval() {
    return checkInterval;
  }

  public void start() {
    BearerToken witnessToken = null;
    if (settings.witnessToken() != null) {
      try {
        witnessToken = BearerToken.read(settings.witnessToken());
      } catch (java.io.IOException | IllegalStateException e) {
        throw new IllegalStateException("failover.witnessTokenFile: cannot read " + settings.witnessToken() + ": " + e.getMessage(), e);
      }
    }
    timer = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("kagami-failover").daemon(true).factory());
    actions = Executors.newSingleThreadExecutor(Thread.ofPlatform().name("kagami-failover-action").daemon(true).factory());
    io = Executors.newVirtualThreadPerTaskExecutor();
    Duration requestTimeout = config.heartbeatInterval().multipliedBy(2);
    if (settings.witness() != null) {
      witness = new WitnessClient(settings.witness().toString(), requestTimeout, witnessToken);
    }
    if (settings.peerAdmin() != null) {
      http = HttpClient.newBuilder().connectTimeout(requestTimeout).build();
    }
    long hb = config.heartbeatInterval().toMillis();
    timer.scheduleWithFixedDelay(guarded("decide", this::tick), 0, checkInterval.toMillis(), TimeUnit.MILLISECONDS);
    timer.scheduleAtFixedRate(guarded("heartbeat", this::sendHeartbeat), 0, hb, TimeUnit.MILLISECONDS);
    timer.scheduleAtFixedRate(guarded("renew", this::renewLease), 0, hb, TimeUnit.MILLISECONDS);
    if (!config.monitors().isEmpty()) {
      timer.scheduleAtFixedRate(guarded("monitors", this::probeMonitors), 0, settings.monitorInterval().toMillis(), TimeUnit.MILLISECONDS);
    }
    LOG.log(Level.INFO, "site {0}: failover controller started: automatic {1}, witness {2}, heartbeat paths {3}, peer admin {4}, heartbeat {5} ms, peerLostAfter {6} ms, selfFenceAfter {7} ms, lease {8} ms, fence agent {9}, maintenance {10}",
        siteId, config.autoFailover() ? "ON" : "off", settings.witness(), config.heartbeatPaths(), settings.peerAdmin(), hb, config.peerLostAfter().toMillis(),
        config.selfFenceAfter().toMillis(), config.lease().toMillis(), config.fence() == null ? "none" : config.fence().argv().getFirst(), maintenance ? "ON" : "off");
  }

  private Runnable guarded(String what, Runnable r) {
    return () -> {
      if (closed) {
        return;
      }
      try {
        r.run();
      } catch (RuntimeException e) {
        LOG.log(Level.ERROR, "site " + siteId + ": failover " + what + " failed", e);
      }
    };
  }

  // ------------------------------------------------------------------ deciding

  private void tick() {
    synchronized (lock) {
      followSiteRole();
      if (wanConnected.getAsBoolean()) {
        policy.onHeartbeat(FailoverSettings.PATH_WAN, wanHeartbeat());
      }
      Decision d = policy.decide();
      if (d instanceof Decision.RequestPromotion && policy.heartbeats().lastHeardAny() == null) {
        // A standby that never heard its primary since it started (both sites booting, or the
        // standby restarted alone) has seen nobody die: it must not take the lease on its own.
        d = new Decision.Suppressed("the primary was never heard since this site started (" + policy.heartbeats().describe()
            + "): no automatic failover from a standby that has not seen its primary; promote by hand if the primary is gone");
      }
      publishFence();
      record(d);
      if (actionInFlight || System.nanoTime() - actionNotBeforeNanos < 0 || closed) {
        return;
      }
      if (releaseAfterDemotion > 0) {
        long term = releaseAfterDemotion;
        releaseAfterDemotion = 0;
        submit(() -> releaseAfterDemotion(term));
        return;
      }
      if (claimAfterManualPromotion) {
        submit(this::claimAfterManualPromotion);
        return;
      }
      switch (d) {
        case Decision.RequestPromotion r -> {
          policy.onClaimSent();
          submit(() -> claim(r.knownTerm()));
        }
        case Decision.Fence f -> submit(() -> runFenceAgent(f.term()));
        case Decision.Promote p -> {
          promotingOurselves = true;
          submit(() -> promote(p));
        }
        case Decision.StepDown s -> submit(() -> stepDown(s.term()));
        case Decision.Stay s -> {}
        case Decision.SelfFence s -> {}
        case Decision.Suppressed s -> {}
      }
    }
  }

  /**
   * The WAN path proves only that the peer's process holds the link; it carries no heartbeat of its
   * own, so it repeats the newest one heard on another path (or an empty one, older than any real).
   */
  private Heartbeat wanHeartbeat() {
    Heartbeat latest = policy.heartbeats().latest();
    return latest != null ? latest : new Heartbeat(peerSiteId, 0, false, false, false, Instant.EPOCH, null, config.peerLostAfter());
  }

  /** A site promoted by hand (kagami promote) runs the primary's policy; with automatic failover on it claims the lease first. */
  private void followSiteRole() {
    if (siteRole.get() == Role.STANDBY && policy.role() == FailoverPolicy.Role.PRIMARY && !promotingOurselves) {
      // Stepped down in place (switchover, failback): give the lease back at once, so the new
      // primary is granted it now rather than after the lease and its margin run out.
      long term = policy.term();
      if (policy.holdsLease() && config.autoFailover()) {
        releaseAfterDemotion = term;
      }
      claimAfterManualPromotion = false;
      policy = FailoverPolicy.standby(config, siteId, term, clock);
      policy.setMaintenance(maintenance);
      LOG.log(Level.INFO, "site {0}: now a standby (role changed in place): failover policy runs as standby at term {1}", siteId, term);
      return;
    }
    if (siteRole.get() != Role.PRIMARY || policy.role() != FailoverPolicy.Role.STANDBY || promotingOurselves) {
      return;
    }
    long term = Math.max(1, policy.term());
    policy = FailoverPolicy.primary(config, siteId, term, clock);
    policy.setMaintenance(maintenance);
    if (config.autoFailover()) {
      claimAfterManualPromotion = true;
      fence.close("promoted by hand or switched over: claiming the lease at the witness before acknowledging writes");
      LOG.log(Level.WARNING, "site {0}: became the primary by hand (promote or switchover) while automatic failover is on: claiming the lease at the witness (term above {1}) before acknowledging writes", siteId, term);
    } else {
      LOG.log(Level.INFO, "site {0}: promoted by hand: failover policy now runs as primary", siteId);
    }
  }

  /** Guarded by lock. */
  private void publishFence() {
    if (!config.autoFailover()) {
      fence.openUnlimited();
    } else if (claimAfterManualPromotion) {
      fence.close("promoted by hand: claiming the lease at the witness before acknowledging writes");
    } else if (policy.mayAcknowledgeWrites()) {
      Instant until = policy.writesAllowedUntil();
      fence.allowUntil(clock.nanoTimeOf(until), "lease evidence ran out (no witness renewal and no heartbeat echo from " + peerSiteId + " for selfFenceAfter "
          + config.selfFenceAfter().toMillis() + " ms)");
    } else {
      Decision d = policy.decide();
      fence.close(policy.role() == FailoverPolicy.Role.PRIMARY ? d.reason() : "standby");
    }
    boolean fenced = policy.role() == FailoverPolicy.Role.PRIMARY && !fence.open();
    if (fenced && !fencedLogged) {
      LOG.log(Level.ERROR, "site {0}: ALERT writes fenced (not acknowledged, EIO): {1}", siteId, fence.reason());
      fencedLogged = true;
    } else if (!fenced && fencedLogged && policy.role() == FailoverPolicy.Role.PRIMARY) {
      LOG.log(Level.WARNING, "site {0}: writes unfenced: lease evidence regained at term {1}", siteId, policy.term());
      fencedLogged = false;
    }
  }

  /** Guarded by lock: logs and keeps a decision when its kind changes (reasons carry running times). */
  private void record(Decision d) {
    decision = d;
    String type = typeOf(d);
    if (type.equals(decisionType)) {
      return;
    }
    decisionType = type;
    recent.addLast(new FailoverStatus.DecisionChange(wall.instant().toString(), type, d.reason()));
    while (recent.size() > RECENT_DECISIONS) {
      recent.removeFirst();
    }
    Level level = d instanceof Decision.Stay || d instanceof Decision.Suppressed ? Level.INFO : Level.WARNING;
    LOG.log(level, "site {0}: failover decision={1} term={2}: {3}", siteId, type, policy.term(), d.reason());
  }

  static String typeOf(Decision d) {
    return switch (d) {
      case Decision.Stay s -> "stay";
      case Decision.SelfFence s -> "self-fence";
      case Decision.StepDown s -> "step-down";
      case Decision.RequestPromotion r -> "request-promotion";
      case Decision.Fence f -> "fence";
      case Decision.Promote p -> "promote";
      case Decision.Suppressed s -> "suppressed";
    };
  }

  // ------------------------------------------------------------------ actions (kagami-failover-action)

  /** Guarded by lock. */
  private void submit(Runnable action) {
    actionInFlight = true;
    actions.execute(() -> {
      try {
        if (!closed) {
          action.run();
        }
      } catch (RuntimeException e) {
        LOG.log(Level.ERROR, "site " + siteId + ": failover action failed", e);
        pauseActions();
      } finally {
        synchronized (lock) {
          actionInFlight = false;
          if (decideAfterAction && !closed) {
            decideAfterAction = false;
            timer.execute(guarded("decide", this::tick));
          }
        }
      }
    });
  }

  private void pauseActions() {
    pauseActions(RETRY_PAUSE);
  }

  private void pauseActions(Duration pause) {
    synchronized (lock) {
      actionNotBeforeNanos = System.nanoTime() + pause.toNanos();
    }
  }

  /** Asks for a decision right after the running action finished, not a tick later. */
  private void decideNow() {
    synchronized (lock) {
      decideAfterAction = true;
    }
  }

  /** One request to the witness. */
  @FunctionalInterface
  private interface WitnessCall {
    LeaseReply send(WitnessClient w) throws IOException, InterruptedException;
  }

  /**
   * Sends {@code call} to the witness and notes the answer or the failure; null when there was no
   * answer (or no witness). Throws only when interrupted.
   */
  private LeaseReply askWitness(WitnessCall call) throws InterruptedException {
    if (witness == null) {
      return null;
    }
    try {
      LeaseReply reply = call.send(witness);
      noteWitness(reply, null);
      return reply;
    } catch (IOException e) {
      noteWitness(null, e); // a lease not released runs out by itself; the other site waits for that
      return null;
    }
  }

  private void claim(long knownTerm) {
    Instant sent = clock.instant();
    LeaseReply reply;
    try {
      reply = askWitness(w -> w.claim(settings.group(), siteId, knownTerm));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    synchronized (lock) {
      policy.onClaimReply(reply, sent);
      if (reply != null && reply.granted()) {
        lastAction = "claimed the lease at term " + reply.term() + ": " + reply.reason();
        LOG.log(Level.WARNING, "site {0}: failover: witness granted the lease at term {1}: {2}", siteId, reply.term(), reply.reason());
        persistLocked();
      } else {
        lastAction = "claim refused: " + (reply == null ? "the witness did not answer" + (witnessError == null ? "" : " (" + witnessError + ")") : reply.reason());
      }
    }
    if (reply == null || !reply.granted()) {
      // The witness answers "not yet" until the old lease plus its margin ran out: ask again a
      // heartbeat interval later (a request is cheap; waiting longer only delays the takeover).
      pauseActions(config.heartbeatInterval());
    } else {
      decideNow(); // fence or promote without waiting for the next tick
    }
  }

  private void runFenceAgent(long term) {
    LOG.log(Level.WARNING, "site {0}: failover: running fence agent {1} against {2} (term {3})", siteId, config.fence().argv(), peerSiteId, term);
    FenceResult result;
    try {
      result = new FenceAgent(config.fence()).fenceOff();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    synchronized (lock) {
      lastFence = result.reason();
      lastAction = "fence agent: " + result.reason();
      policy.onFenceResult(result);
    }
    if (result.success()) {
      LOG.log(Level.WARNING, "site {0}: failover: {1}", siteId, result.reason());
      decideNow();
    } else {
      LOG.log(Level.ERROR, "site {0}: ALERT fence agent failed, promotion waits: {1}{2}", siteId, result.reason(), result.output().isBlank() ? "" : "; output: " + result.output().strip());
      pauseActions();
    }
  }

  private void promote(Decision.Promote p) {
    synchronized (lock) {
      persistLocked(); // the term first: a crash after the promotion must not come back at an older term
    }
    long start = System.nanoTime();
    try {
      promoter.promote();
    } catch (RuntimeException e) {
      synchronized (lock) {
        promotingOurselves = false;
        lastAction = "promotion refused: " + e.getMessage();
      }
      LOG.log(Level.ERROR, "site {0}: ALERT automatic promotion refused: {1}", siteId, e.getMessage());
      pauseActions();
      return;
    }
    synchronized (lock) {
      policy.onPromoted();
      promotingOurselves = false;
      lastAction = "promoted to primary at term " + p.term() + " in " + (System.nanoTime() - start) / 1_000_000 + " ms";
      publishFence();
    }
    LOG.log(Level.WARNING, "site {0}: AUTOMATIC FAILOVER: promoted to primary at term {1}: {2}", siteId, p.term(), p.reason());
  }

  private void stepDown(long term) {
    LOG.log(Level.ERROR, "site {0}: ALERT stepping down at term {1}: {2}", siteId, term, decision.reason());
    try {
      askWitness(w -> w.release(settings.group(), siteId, term));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    synchronized (lock) {
      policy.onSteppedDown();
      lastAction = "stepped down at term " + term;
      publishFence();
    }
  }

  /** Releases the lease this site held as primary before it became a standby in place. */
  private void releaseAfterDemotion(long term) {
    try {
      askWitness(w -> w.release(settings.group(), siteId, term));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    synchronized (lock) {
      lastAction = "released the lease at term " + term + " after becoming the standby";
    }
    LOG.log(Level.INFO, "site {0}: released the witness lease at term {1}: now the standby", siteId, term);
  }

  private void claimAfterManualPromotion() {
    long known;
    synchronized (lock) {
      known = policy.term();
    }
    Instant sent = clock.instant();
    LeaseReply reply;
    try {
      reply = askWitness(w -> w.claim(settings.group(), siteId, known));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    synchronized (lock) {
      if (reply != null && reply.granted() && siteId.equals(reply.holder())) {
        policy = FailoverPolicy.primary(config, siteId, reply.term(), clock);
        policy.setMaintenance(maintenance);
        policy.onRenewReply(reply, sent);
        claimAfterManualPromotion = false;
        persistLocked();
        lastAction = "claimed the lease at term " + reply.term() + " after a promotion by hand";
        publishFence();
        return;
      }
      lastAction = "promoted by hand, lease not granted yet: " + (reply == null ? "the witness did not answer" : reply.reason());
    }
    // Usually the old primary is releasing the lease right now (a switchover): ask again soon.
    pauseActions(config.heartbeatInterval());
  }

  // ------------------------------------------------------------------ observations

  private void sendHeartbeat() {
    if (http == null || !heartbeatInFlight.compareAndSet(false, true)) {
      return;
    }
    byte[] body;
    synchronized (lock) {
      body = json(HeartbeatMessage.of(policy.heartbeat()));
    }
    io.execute(() -> {
      try {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://" + settings.peerAdmin() + "/heartbeat"))
            .timeout(config.heartbeatInterval().multipliedBy(2))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build();
        HttpResponse<byte[]> r = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
        if (r.statusCode() != 200) {
          throw new IOException("HTTP " + r.statusCode() + ": " + new String(r.body(), java.nio.charset.StandardCharsets.UTF_8).strip());
        }
        Heartbeat peer = JSON.readValue(r.body(), HeartbeatMessage.class).toHeartbeat();
        synchronized (lock) {
          hear(peer);
          heartbeatError = null;
        }
      } catch (IOException | IllegalArgumentException e) {
        synchronized (lock) {
          heartbeatError = "POST http://" + settings.peerAdmin() + "/heartbeat: " + e;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        heartbeatInFlight.set(false);
      }
    });
  }

  /** Guarded by lock. */
  private void hear(Heartbeat peer) {
    if (!peer.siteId().equals(peerSiteId)) {
      throw new IllegalArgumentException("heartbeat from site \"" + peer.siteId() + "\", but this site's peer is \"" + peerSiteId + "\"");
    }
    Heartbeat h = peer;
    if (h.echo() != null && h.echo().isAfter(clock.instant())) {
      // An echo from the future was not sent by this process (a clock anchor of an earlier run): no evidence.
      h = new Heartbeat(h.siteId(), h.term(), h.primary(), h.plannedStop(), h.steppedDown(), h.sentAt(), null, h.lostAfter());
    }
    policy.onHeartbeat(FailoverSettings.PATH_ADMIN, h);
    publishFence();
  }

  private void renewLease() {
    if (witness == null) {
      return;
    }
    long term;
    synchronized (lock) {
      if (!policy.holdsLease() || claimAfterManualPromotion || !renewInFlight.compareAndSet(false, true)) {
        return;
      }
      term = policy.term();
    }
    io.execute(() -> {
      Instant sent = clock.instant();
      try {
        LeaseReply reply = witness.renew(settings.group(), siteId, term);
        noteWitness(reply, null);
        synchronized (lock) {
          policy.onRenewReply(reply, sent);
          publishFence();
          if (reply.granted() && reply.leaseMillis() <= config.selfFenceAfter().toMillis() && !shortLeaseWarned) {
            shortLeaseWarned = true;
            LOG.log(Level.WARNING, "site {0}: the witness grants {1} ms leases, not longer than failover.selfFenceAfter {2} ms: lease evidence is cut to the witness''s lease; align failover.lease with the witness''s --lease",
                siteId, reply.leaseMillis(), config.selfFenceAfter().toMillis());
          }
        }
      } catch (IOException e) {
        noteWitness(null, e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        renewInFlight.set(false);
      }
    });
  }

  private void noteWitness(LeaseReply reply, IOException error) {
    synchronized (lock) {
      if (reply != null) {
        witnessLastReply = (reply.granted() ? "granted" : "refused") + " at term " + reply.term() + ": " + reply.reason();
        witnessError = null;
        if (reply.granted()) {
          lastGrantNanos = System.nanoTime();
          lastGrantSeen = true;
        }
      } else if (error != null) {
        witnessError = error.toString();
      }
    }
  }

  private void probeMonitors() {
    synchronized (lock) {
      if (policy.role() != FailoverPolicy.Role.PRIMARY) {
        return;
      }
    }
    for (MonitorConfig m : config.monitors()) {
      AtomicBoolean busy = probeInFlight.computeIfAbsent(m.name(), k -> new AtomicBoolean());
      if (!busy.compareAndSet(false, true)) {
        continue;
      }
      io.execute(() -> {
        try {
          ProbeResult r = Probe.of(m).probe();
          synchronized (lock) {
            if (policy.role() == FailoverPolicy.Role.PRIMARY) {
              policy.onProbe(r);
            }
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          busy.set(false);
        }
      });
    }
  }

  // ------------------------------------------------------------------ admin surface

  @Override
  public byte[] heartbeat(byte[] body) {
    Heartbeat peer;
    try {
      peer = JSON.readValue(body, HeartbeatMessage.class).toHeartbeat();
    } catch (IOException e) {
      throw new IllegalArgumentException("not a heartbeat: " + e.getMessage(), e);
    }
    synchronized (lock) {
      hear(peer);
      return json(HeartbeatMessage.of(policy.heartbeat()));
    }
  }

  @Override
  public Object maintenance(Boolean on) {
    synchronized (lock) {
      if (on != null && on != maintenance) {
        maintenance = on;
        policy.setMaintenance(on);
        persistLocked();
        LOG.log(Level.WARNING, "site {0}: maintenance mode {1}: {2}", siteId, on ? "ON" : "off",
            on ? "no automatic failover from this site, and the peer is told so in every heartbeat" : "automatic failover allowed again");
      }
      return Map.of("siteId", siteId, "maintenance", maintenance, "automatic", config.autoFailover());
    }
  }

  /** Guarded by lock. */
  private void persistLocked() {
    try {
      new FailoverStateFile(policy.term(), maintenance).write(dataDir);
    } catch (IOException e) {
      throw new UncheckedIOException("site " + siteId + ": cannot record the failover state in " + dataDir.resolve(FailoverStateFile.FILE) + ": " + e.getMessage(), e);
    }
  }

  /** The {@code failover} part of the site's status. */
  public FailoverStatus status() {
    synchronized (lock) {
      Decision d = decision == null ? policy.decide() : decision;
      boolean primary = policy.role() == FailoverPolicy.Role.PRIMARY;
      // The site's role, not the policy's: right after a role change in place the policy follows
      // at its next tick, and the gate is closed until then.
      boolean fenced = siteRole.get() == Role.PRIMARY && !fence.open();
      Instant until = config.autoFailover() && primary ? policy.writesAllowedUntil() : null;
      Double left = until == null ? null : Math.max(0, Duration.between(clock.instant(), until).toMillis()) / 1000.0;
      Heartbeat latest = policy.heartbeats().latest();
      List<FailoverStatus.Path> paths = new ArrayList<>();
      for (HeartbeatTracker.PathStatus p : policy.heartbeats().paths()) {
        paths.add(new FailoverStatus.Path(p.path(), p.alive(), p.lastHeard() != null, p.silentFor().toMillis() / 1000.0));
      }
      List<FailoverStatus.Monitor> monitors = new ArrayList<>();
      for (MonitorTracker.MonitorStatus m : policy.monitors().status()) {
        monitors.add(new FailoverStatus.Monitor(m.name(), m.consecutiveFailures(), m.last() == null ? null : m.last().healthy(), m.last() == null ? null : m.last().detail()));
      }
      FailoverStatus.Witness w = settings.witness() == null ? null
          : new FailoverStatus.Witness(settings.witness().toString(), settings.group(), witnessLastReply,
              lastGrantSeen ? (System.nanoTime() - lastGrantNanos) / 1e9 : null, witnessError);
      return new FailoverStatus(
          config.autoFailover(),
          primary ? "primary" : "standby",
          policy.term(),
          fenced,
          fenced ? fence.reason() : null,
          left,
          maintenance,
          latest != null && latest.plannedStop(),
          typeOf(d),
          d.reason() + (heartbeatError == null ? "" : "; heartbeat path: " + heartbeatError),
          checkInterval.toMillis(),
          w,
          paths,
          monitors,
          lastFence,
          lastAction,
          List.copyOf(recent));
    }
  }

  private static byte[] json(Object o) {
    try {
      return JSON.writeValueAsBytes(o);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    closed = true;
    if (timer != null) {
      timer.shutdownNow();
    }
    if (actions != null) {
      // An action may wait for the site's lock, which close() of the site holds: give up after a moment.
      actions.shutdownNow();
      try {
        actions.awaitTermination(2, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    if (io != null) {
      io.shutdownNow();
    }
    if (witness != null) {
      witness.close();
    }
    if (http != null) {
      http.close();
    }
  }
}
