package io.kagami.site;

import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The role a site runs towards its peer, why (the durable {@link RoleRecord}), and the one lock
 * that makes role changes happen one at a time. The role and the record are read from any thread
 * (volatile); they change only under {@link #lock}, which a role change holds for its whole
 * duration — including its bounded waits on futures — and which nothing else takes (status,
 * housekeeping and the NBD path never wait for a role change).
 *
 * <p>Several peers: an N:1 standby keeps this one role (standby) and this one lock; promoting one
 * primary's volumes takes the lock for its duration and is recorded per peer in {@link
 * PromotedPeers}, not here, so it never changes the role towards another peer. The record lives in
 * the data directory's {@code role} file.
 */
final class PeerRole {
  private static final System.Logger LOG = System.getLogger(PeerRole.class.getName());

  private final SiteConfig config;

  /** False once the site is closing: no role change begins after that. */
  private final BooleanSupplier open;

  private final ReentrantLock lock = new ReentrantLock();

  /** The role this site runs now: the configured one, or the one a role change recorded. */
  private volatile Role role;

  /** Why the site runs in its role, when a role change recorded it (null: as configured). */
  private volatile RoleRecord recorded;

  /**
   * The operator consented ({@code kagami failback}) to discard this site's writes after a fork.
   */
  private volatile boolean discardDiverged;

  /**
   * Reads the recorded role from the data directory (the configured role when none); {@code open}
   * says whether role changes may still begin.
   */
  PeerRole(SiteConfig config, BooleanSupplier open) {
    this.config = config;
    this.open = open;
    this.recorded = RoleRecord.read(config.dataDir()).orElse(null);
    this.role = recorded == null ? config.role() : recorded.role();
    this.discardDiverged = recorded != null && recorded.discardDiverged();
    if (role != config.role()) {
      LOG.log(
          Level.WARNING,
          "site {0} runs as {1}, although its configuration says {2}: it changed roles at run time ({3} at {4}; see {5})",
          config.siteId(),
          role.label(),
          config.role().label(),
          recorded.reason(),
          recorded.since(),
          config.dataDir().resolve(RoleRecord.FILE));
    }
  }

  Role role() {
    return role;
  }

  RoleRecord recorded() {
    return recorded;
  }

  boolean discardDiverged() {
    return discardDiverged;
  }

  /**
   * True when this site runs as primary because a standby was promoted (no standby in sync yet).
   */
  boolean promotedByFailover() {
    RoleRecord r = recorded;
    return r != null && r.role() == Role.PRIMARY && r.cause() == RoleRecord.Cause.PROMOTE;
  }

  /** Under {@link #lock}: the role in force from now on (volumes and link already turned). */
  void role(Role next) {
    role = next;
  }

  /** Under {@link #lock}: the operator's consent to discard writes after the fork. */
  void consentToDiscardDiverged() {
    discardDiverged = true;
  }

  /**
   * Under {@link #lock}: records {@code r} durably before the change takes effect outward; throws,
   * with nothing changed, when it cannot be written.
   */
  void record(RoleRecord r) {
    try {
      r.persist(config.dataDir());
    } catch (IOException e) {
      throw new IllegalStateException(
          "site "
              + config.siteId()
              + ": recording the role change failed ("
              + e.getMessage()
              + "); nothing was changed",
          e);
    }
    recorded = r;
  }

  /**
   * Takes the role-change lock, waiting at most {@code patience} for a change under way to end
   * (each one bounds its own waits); refuses, with the reason, when it does not or when the site is
   * shutting down. Release with {@link #unlock()}.
   */
  void lock(String what, Duration patience) {
    if (!tryLock(patience)) {
      throw new Promotion.RefusedException(
          "site "
              + config.siteId()
              + ": another role change is still under way; "
              + what
              + " was not started (retry once kagami status shows it done)");
    }
    if (!open.getAsBoolean()) {
      lock.unlock();
      throw new Promotion.RefusedException("site " + config.siteId() + " is shutting down");
    }
  }

  /** Runs {@code change} holding the lock, taken as {@link #lock} takes it, and lets go after. */
  <T> T whileLocked(String what, Duration patience, Supplier<T> change) {
    lock(what, patience);
    try {
      return change.get();
    } finally {
      unlock();
    }
  }

  /** As {@link #whileLocked(String, Duration, Supplier)}, for a change that returns nothing. */
  void whileLocked(String what, Duration patience, Runnable change) {
    lock(what, patience);
    try {
      change.run();
    } finally {
      unlock();
    }
  }

  /**
   * Refuses a change to standby while the site has no {@code wan.listen}: a standby waits for its
   * primary to connect, and this one would have nowhere to listen.
   */
  void requireListen() {
    if (config.wan().listen() == null) {
      throw new Promotion.RefusedException(
          "site "
              + config.siteId()
              + " has no wan.listen: it could not become the standby; configure where it listens for its peer and restart it first");
    }
  }

  /**
   * For the closing site: waits at most {@code patience} for a role change under way to end (none
   * begins once the site is closing), then lets go; false when one was still running.
   */
  boolean awaitRoleChanges(Duration patience) {
    if (!tryLock(patience)) {
      return false;
    }
    lock.unlock();
    return true;
  }

  private boolean tryLock(Duration patience) {
    try {
      return lock.tryLock(patience.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  void unlock() {
    lock.unlock();
  }
}
