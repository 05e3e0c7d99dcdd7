package io.kagami.site.failover;

import io.kagami.clock.NanoClock;
import io.kagami.failover.Decision;
import io.kagami.failover.FailoverConfig;
import io.kagami.failover.fence.FenceResult;
import io.kagami.site.fence.FenceAgent;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Carries out what the policy decided, one action at a time on its own thread ({@code
 * kagami-failover-action}): claiming the lease at the witness, running the fence agent, promoting
 * the site, stepping down, and giving the lease back after a role change in place. Each reports its
 * outcome to the {@link PolicyDriver}, which decides the next step.
 *
 * <p>An action may block its thread: on the witness's answer (a future, bounded by the request
 * timeout), on the fence agent (bounded by its timeout), on the site's promotion, and briefly on
 * the driver's lock. That is why actions have a thread of their own: a hung witness or fence agent
 * never delays a decision or a heartbeat. After a failed claim, fence or promotion the next action
 * waits (a pause, not a loop: the driver simply does not submit before it ends), so a failing agent
 * is not run in a loop. After a step succeeds, the driver decides again at once rather than a tick
 * later.
 *
 * <p>{@link #submit} is called by the driver under its lock; the flags here are atomics and
 * volatiles, so this class never takes the driver's lock while the driver holds it.
 */
final class FailoverActions implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(FailoverActions.class.getName());

  /**
   * Pause after a failed claim, fence or promotion before the next attempt, so a failing agent is
   * not run in a loop.
   */
  static final Duration RETRY_PAUSE = Duration.ofSeconds(2);

  private final FailoverConfig config;
  private final String siteId;
  private final String peerSiteId;
  private final PolicyDriver driver;
  private final LeaseClient lease;
  private final FailoverController.Promoter promoter;
  private final NanoClock nanos;
  private final Runnable decideSoon;
  private final AtomicBoolean inFlight = new AtomicBoolean();
  private volatile long notBeforeNanos;
  private volatile boolean decideAfter;
  private volatile boolean closed;
  private volatile String lastFence;
  private volatile String lastAction;
  private ExecutorService thread;

  /**
   * {@code decideSoon}: asks the driver for a decision on its own thread (after a step succeeded).
   */
  FailoverActions(
      FailoverConfig config,
      String siteId,
      String peerSiteId,
      PolicyDriver driver,
      LeaseClient lease,
      FailoverController.Promoter promoter,
      NanoClock nanos,
      Runnable decideSoon) {
    this.config = config;
    this.siteId = siteId;
    this.peerSiteId = peerSiteId;
    this.driver = driver;
    this.lease = lease;
    this.promoter = promoter;
    this.nanos = nanos;
    this.decideSoon = decideSoon;
    this.notBeforeNanos = nanos.nanoTime();
  }

  void start() {
    thread =
        Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("kagami-failover-action").daemon(true).factory());
  }

  /** Whether a new action may start now: none running, no retry pause running, not closed. */
  boolean ready() {
    return !closed && thread != null && !inFlight.get() && nanos.nanoTime() - notBeforeNanos >= 0;
  }

  /** The fence agent's last result, if it ran. */
  String lastFence() {
    return lastFence;
  }

  /** The last action carried out, if any. */
  String lastAction() {
    return lastAction;
  }

  // ------------------------------------------------------------------ the actions (submitted by
  // the driver)

  /** Claims the lease for a failover: the policy decided RequestPromotion. */
  void claim(long knownTerm) {
    submit(
        () -> {
          LeaseClient.Answer a = await(lease.claim(knownTerm));
          boolean granted = driver.onClaimAnswer(a);
          if (granted) {
            lastAction =
                "claimed the lease at term " + a.reply().term() + ": " + a.reply().reason();
            LOG.log(
                Level.WARNING,
                "site {0}: failover: witness granted the lease at term {1}: {2}",
                siteId,
                a.reply().term(),
                a.reply().reason());
            decideNow(); // fence or promote without waiting for the next tick
          } else {
            String why = lease.lastError();
            lastAction =
                "claim refused: "
                    + (a.reply() == null
                        ? "the witness did not answer" + (why == null ? "" : " (" + why + ")")
                        : a.reply().reason());
            // The witness answers "not yet" until the old lease plus its margin ran out: ask again
            // a
            // heartbeat interval later (a request is cheap; waiting longer only delays the
            // takeover).
            pause(config.heartbeatInterval());
          }
        });
  }

  /** Runs the fence agent against the old primary before promoting at {@code term}. */
  void fence(long term) {
    submit(
        () -> {
          LOG.log(
              Level.WARNING,
              "site {0}: failover: running fence agent {1} against {2} (term {3})",
              siteId,
              config.fence().argv(),
              peerSiteId,
              term);
          FenceResult result = new FenceAgent(config.fence(), nanos).fenceOff();
          lastFence = result.reason();
          lastAction = "fence agent: " + result.reason();
          driver.onFenceResult(result);
          if (result.success()) {
            LOG.log(Level.WARNING, "site {0}: failover: {1}", siteId, result.reason());
            decideNow();
          } else {
            LOG.log(
                Level.ERROR,
                "site {0}: ALERT fence agent failed, promotion waits: {1}{2}",
                siteId,
                result.reason(),
                result.output().isBlank() ? "" : "; output: " + result.output().strip());
            pause(RETRY_PAUSE);
          }
        });
  }

  /** Promotes the site through its ordinary promotion (the driver recorded the term first). */
  void promote(Decision.Promote p) {
    submit(
        () -> {
          driver.persist(); // the term first: a crash after the promotion must not come back at an
          // older term
          long start = nanos.nanoTime();
          try {
            promoter.promote();
          } catch (RuntimeException e) {
            driver.onPromotionRefused();
            lastAction = "promotion refused: " + e.getMessage();
            LOG.log(
                Level.ERROR,
                "site {0}: ALERT automatic promotion refused: {1}",
                siteId,
                e.getMessage());
            pause(RETRY_PAUSE);
            return;
          }
          lastAction =
              "promoted to primary at term "
                  + p.term()
                  + " in "
                  + nanos.nanosSince(start) / 1_000_000
                  + " ms";
          driver.onPromoted();
          LOG.log(
              Level.WARNING,
              "site {0}: AUTOMATIC FAILOVER: promoted to primary at term {1}: {2}",
              siteId,
              p.term(),
              p.reason());
        });
  }

  /**
   * Gives up the lease because an application monitor failed (the primary stopped writing already).
   */
  void stepDown(Decision.StepDown s) {
    submit(
        () -> {
          LOG.log(
              Level.ERROR,
              "site {0}: ALERT stepping down at term {1}: {2}",
              siteId,
              s.term(),
              s.reason());
          await(lease.release(s.term()));
          lastAction = "stepped down at term " + s.term();
          driver.onSteppedDown();
        });
  }

  /** Releases the lease this site held as primary before it became a standby in place. */
  void releaseAfterDemotion(long term) {
    submit(
        () -> {
          await(lease.release(term));
          lastAction = "released the lease at term " + term + " after becoming the standby";
          LOG.log(
              Level.INFO,
              "site {0}: released the witness lease at term {1}: now the standby",
              siteId,
              term);
        });
  }

  /** A site promoted by hand while automatic failover is on claims the lease before it writes. */
  void claimAfterManualPromotion() {
    submit(
        () -> {
          LeaseClient.Answer a = await(lease.claim(driver.term()));
          if (driver.onManualPromotionClaim(a)) {
            lastAction =
                "claimed the lease at term " + a.reply().term() + " after a promotion by hand";
            return;
          }
          lastAction =
              "promoted by hand, lease not granted yet: "
                  + (a.reply() == null ? "the witness did not answer" : a.reply().reason());
          // Usually the old primary is releasing the lease right now (a switchover): ask again
          // soon.
          pause(config.heartbeatInterval());
        });
  }

  // ------------------------------------------------------------------ running them

  /** The body of an action; may be interrupted when the controller closes. */
  @FunctionalInterface
  private interface Action {
    void run() throws InterruptedException;
  }

  private void submit(Action action) {
    inFlight.set(true);
    thread.execute(
        () -> {
          try {
            if (!closed) {
              action.run();
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // closing
          } catch (RuntimeException e) {
            LOG.log(Level.ERROR, "site " + siteId + ": failover action failed", e);
            pause(RETRY_PAUSE);
          } finally {
            inFlight.set(false);
            if (decideAfter && !closed) {
              decideAfter = false;
              decideSoon.run();
            }
          }
        });
  }

  /** The answer of a witness request (never an I/O failure: those are "no answer"). */
  private static LeaseClient.Answer await(CompletableFuture<LeaseClient.Answer> answer)
      throws InterruptedException {
    try {
      return answer.get();
    } catch (InterruptedException e) {
      answer.cancel(true);
      throw e;
    } catch (ExecutionException e) {
      throw e.getCause() instanceof RuntimeException re
          ? re
          : new IllegalStateException(e.getCause());
    }
  }

  private void pause(Duration pause) {
    notBeforeNanos = nanos.nanoTime() + pause.toNanos();
  }

  /** Asks for a decision right after the running action finished, not a tick later. */
  private void decideNow() {
    decideAfter = true;
  }

  @Override
  public void close() {
    closed = true;
    if (thread != null) {
      // An action may wait for the site's lock, which close() of the site holds: give up after a
      // moment.
      thread.shutdownNow();
      try {
        thread.awaitTermination(2, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
