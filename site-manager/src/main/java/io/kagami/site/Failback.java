package io.kagami.site;

import io.kagami.clock.NanoClock;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Failback (reprotect): an old primary that returned after its standby was promoted becomes the
 * standby of the site that replaced it — in place ({@link #run()}), or recorded while it is stopped
 * ({@link #markWhileStopped}) so that it starts as the standby. When the new primary connects, this
 * site's writes after the fork are saved aside and discarded, and only the ranges changed on either
 * side since the fork are copied back (see {@code DivergedHistory}).
 *
 * <p>{@link #run()} runs on the admin HTTP thread, holding the peer's role-change lock; it waits,
 * bounded, on the exports' in-flight writes and the volume files' catching up (futures), and blocks
 * on disk. Several peers: a failback names one peer and turns only its volumes, link and role.
 */
final class Failback {
  private static final System.Logger LOG = System.getLogger(Failback.class.getName());

  private final SiteConfig config;
  private final InstantSource clock;
  private final NanoClock nanoClock;
  private final Peer peer;
  private final StateObserver observer;

  Failback(
      SiteConfig config,
      InstantSource clock,
      NanoClock nanoClock,
      Peer peer,
      StateObserver observer) {
    this.config = config;
    this.clock = clock;
    this.nanoClock = nanoClock;
    this.peer = peer;
    this.observer = observer;
  }

  /** What a failback reports (the admin surface's JSON, field for field). */
  record Done(String site, String primary, String listen, long millis) {
    Map<String, Object> toJson() {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("site", site);
      out.put("role", Role.STANDBY.label());
      out.put("primary", primary);
      out.put("listen", listen);
      out.put("millis", millis);
      return out;
    }
  }

  /** In place: stops taking writes and becomes the standby of the new primary. */
  Done run() {
    PeerRole roles = peer.roles();
    return roles.whileLocked("the failback", Site.DEFAULT_ROLE_TIMEOUT, () -> runLocked(roles));
  }

  private Done runLocked(PeerRole roles) {
    String peerId = peer.peerSiteId();
    if (peer.role() != Role.PRIMARY) {
      throw new Promotion.RefusedException("site " + config.siteId() + " is already a standby");
    }
    roles.requireListen();
    if (peer.linkConnected()) {
      throw new Promotion.RefusedException(
          "site "
              + config.siteId()
              + " is replicating to its standby "
              + peerId
              + ", which was not promoted: use switchover for a planned move of the primary");
    }
    long start = nanoClock.nanoTime();
    Deadline deadline = Deadline.after(nanoClock, Site.DEFAULT_ROLE_TIMEOUT);
    // A site that fails back has lost its standby role to the peer: the failback goes on when the
    // wait ends (said in the log), as it always has; only a switchover is called off by it.
    if (deadline.await(
            peer.fenceExports(
                "failback in progress: this site is becoming the standby of " + peerId))
        != Deadline.Outcome.DONE) {
      LOG.log(
          Level.WARNING,
          "site {0}: failback: writes were still in flight after {1} s; going on",
          config.siteId(),
          Site.DEFAULT_ROLE_TIMEOUT.toSeconds());
    }
    roles.consentToDiscardDiverged();
    roles.record(
        new RoleRecord(
            Role.STANDBY,
            clock.instant().toString(),
            RoleRecord.Cause.FAILBACK,
            "failback: standby of " + peerId,
            true));
    peer.becomeStandbyInPlace(Site.DEFAULT_ROLE_TIMEOUT);
    observer.roleChanged(Role.PRIMARY, Map.of());
    long millis = nanoClock.nanosSince(start) / 1_000_000;
    LOG.log(
        Level.WARNING,
        "site {0}: FAILBACK: now the standby of {1}; waiting for it to connect and copy back what changed",
        config.siteId(),
        peerId);
    return new Done(config.siteId(), peerId, config.wan().listen().toString(), millis);
  }

  /**
   * Failback prepared while the site is stopped (the safer order: it never starts as a primary):
   * records it as the standby of its peer, with consent to discard its writes after the fork, so
   * that {@code kagami run} starts it as the standby. Returns what to tell the operator.
   */
  static String markWhileStopped(SiteConfig config, InstantSource clock) {
    RoleRecord current = RoleRecord.read(config.dataDir()).orElse(null);
    Role now = current == null ? config.role() : current.role();
    if (now == Role.STANDBY && (current == null || current.discardDiverged())) {
      throw new Promotion.RefusedException("site " + config.siteId() + " is already a standby");
    }
    if (config.wan().listen() == null) {
      throw new Promotion.RefusedException(
          "site "
              + config.siteId()
              + " has no wan.listen: it could not become the standby; configure where it listens for its peer first");
    }
    RoleRecord r =
        new RoleRecord(
            Role.STANDBY,
            clock.instant().toString(),
            RoleRecord.Cause.FAILBACK,
            "failback: standby of " + config.wan().peerSiteId() + " (marked while stopped)",
            true);
    try {
      r.persist(config.dataDir());
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot record the failback in " + config.dataDir() + ": " + e.getMessage(), e);
    }
    return "site "
        + config.siteId()
        + " will start as the standby of "
        + config.wan().peerSiteId()
        + " (listening on "
        + config.wan().listen()
        + ")";
  }
}
