package io.kagami.site;

import io.kagami.clock.NanoClock;
import io.kagami.replicator.history.History;
import io.kagami.site.config.PeerConfig;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Unplanned failover: makes this standby the primary of its peer's volumes, from what it holds
 * ({@link #promote(boolean)}), at a point in its retained history ({@link #promoteAt}), or on the
 * failover controller's decision ({@link #promoteAutomatically()}).
 *
 * <p>Runs on the caller's thread (admin HTTP, or the failover controller's), holding the peer's
 * role-change lock throughout; blocks on disk (applying what was received, a rollback, the role
 * record) and on closing the link, never on the network otherwise. Refusals are {@link
 * Promotion.RefusedException}s with the reason and change nothing. An N:1 standby refuses the
 * whole-site promotions; {@link #promotePeer(String, boolean, String, Long, Instant)} turns one
 * primary's volumes only, ending and refusing that primary's connection but not the link.
 */
final class StandbyPromoter {
  private static final System.Logger LOG = System.getLogger(StandbyPromoter.class.getName());

  private final SiteConfig config;
  private final InstantSource clock;
  private final NanoClock nanoClock;
  private final Peer peer;
  private final VolumeRuntimes runtimes;
  private final Drills drills;
  private final StateObserver observer;

  StandbyPromoter(
      SiteConfig config,
      InstantSource clock,
      NanoClock nanoClock,
      Peer peer,
      VolumeRuntimes runtimes,
      Drills drills,
      StateObserver observer) {
    this.config = config;
    this.clock = clock;
    this.nanoClock = nanoClock;
    this.peer = peer;
    this.runtimes = runtimes;
    this.drills = drills;
    this.observer = observer;
  }

  /**
   * This standby becomes the primary of every volume, from what it holds. Refused, with the reason,
   * when the site is a primary already, or when a volume's replica is inconsistent (a resync was
   * cut short) and {@code force} is false. The link to the old primary is closed for good; every
   * entry received is applied; each export turns read-write; the promotion is recorded in the data
   * directory so a restart keeps the role.
   *
   * <p>The caller is responsible for the old primary being down or fenced: nothing here can stop it
   * (see the failover-policy module for the witness and fencing that make that automatic).
   */
  Promotion promote(boolean force) {
    requireOnePeer();
    PeerRole roles = peer.roles();
    return roles.whileLocked("promote", Site.DEFAULT_ROLE_TIMEOUT, () -> promoteLocked(force));
  }

  /**
   * Automatic failover's promotion: as {@link #promote(boolean)}, refused once the site is closing.
   */
  Promotion promoteAutomatically() {
    return peer.roles()
        .whileLocked(
            "an automatic promotion", Site.DEFAULT_ROLE_TIMEOUT, () -> promoteLocked(false));
  }

  /**
   * Refuses a whole-site promotion of an N:1 standby: it would turn every primary's volumes at once
   * (one role, one record), which is never what a failover of one primary site means.
   */
  private void requireOnePeer() {
    if (config.nToOne()) {
      throw new Promotion.RefusedException(
          "standby "
              + config.siteId()
              + " receives from several primaries "
              + config.peerSiteIds()
              + " (peers:); promoting the whole N:1 standby would take over every peer's volumes"
              + " at once: promote one primary's volumes with kagami promote --peer NAME (POST"
              + " /promote?peer=NAME), e.g. --peer "
              + config.peerSiteIds().getFirst());
    }
  }

  private Promotion promoteLocked(boolean force) {
    if (peer.role() == Role.PRIMARY) {
      throw new Promotion.RefusedException("site " + config.siteId() + " is already the primary");
    }
    List<String> inconsistent = new ArrayList<>();
    for (VolumeRuntime v : peer.volumes()) {
      if (v instanceof VolumeRuntime.Standby r && !r.sink().consistent()) {
        inconsistent.add(v.name());
      }
    }
    if (!inconsistent.isEmpty() && !force) {
      throw new Promotion.RefusedException(
          "volume(s) "
              + String.join(", ", inconsistent)
              + " are inconsistent: a resync was interrupted, so the replica mixes old and new regions;"
              + " promote --force accepts them as they are");
    }
    drills.stopAll("the site is being promoted");
    long start = nanoClock.nanoTime();
    peer.closeLink(); // nothing more from the old primary, ever
    peer.roles()
        .record(
            new RoleRecord(
                Role.PRIMARY,
                clock.instant().toString(),
                RoleRecord.Cause.PROMOTE,
                "promote (failover from " + peer.peerSiteId() + ")",
                false));
    List<Promotion.VolumeAt> at = peer.becomePrimary(true);
    drills.promoted(); // history described a standby's replica; the volume takes writes now
    peer.startLink();
    Promotion promotion =
        new Promotion(
            clock.instant().toString(),
            force && !inconsistent.isEmpty(),
            at,
            nanoClock.nanosSince(start) / 1_000_000);
    try {
      promotion.persist(config.dataDir());
    } catch (IOException ex) {
      LOG.log(
          Level.WARNING,
          "site {0}: promoted, but writing the promotion details failed ({1})",
          config.siteId(),
          ex.getMessage());
    }
    LOG.log(
        Level.WARNING,
        "site {0} PROMOTED to primary in {1} ms{2}: {3}",
        config.siteId(),
        promotion.millis(),
        promotion.forced() ? " (forced over inconsistent volumes)" : "",
        at);
    observer.roleChanged(Role.STANDBY, promotion.forced() ? Map.of("forced", "true") : Map.of());
    return promotion;
  }

  /**
   * What {@link Site#promotePeer} asks: on an N:1 standby {@link #promotePeer(String, boolean,
   * String, Long, Instant)}; on a 1:1 standby naming its peer, the whole-site promotion ({@code
   * point} null: from what it holds).
   */
  Promotion promotePeer(String siteId, boolean force, RecoveryPoint point) {
    if (!config.nToOne()) {
      if (!siteId.equals(config.wan().peerSiteId())) {
        throw new Promotion.RefusedException(
            "site "
                + config.siteId()
                + " replicates with "
                + config.wan().peerSiteId()
                + " only, not with \""
                + siteId
                + "\"");
      }
      return point == null
          ? promote(force)
          : promoteAt(force, point.volume(), point.seq(), point.at());
    }
    return point == null
        ? promotePeer(siteId, force, null, null, null)
        : promotePeer(siteId, force, point.volume(), point.seq(), point.at());
  }

  /**
   * N:1: promotes only the volumes of primary {@code siteId} ({@code <siteId>.*}), from what they
   * hold or (with {@code seq} or {@code at}; {@code volume} names the one a seq belongs to) rolled
   * back to a point in their retained history. In order: refused with the reason, nothing changed,
   * when the peer is unknown, promoted already, or (without {@code force}) one of its replicas is
   * inconsistent; the peer is refused by the receiver from now on and its connection ended (its
   * stores under way settle); its drills end; the point is checked and rolled back to; the
   * promotion is recorded durably ({@link PromotedPeers}); its volumes turn into writable primaries
   * of a new data generation. The receiver, every other peer's connection, volumes, drills and
   * history are not touched, and the site's role stays standby.
   *
   * <p>As for {@link #promote(boolean)}, the caller is responsible for the old primary being down
   * or fenced (an N:1 standby has no failover section, so no witness or fence agent); if it comes
   * back it is refused as stale and cannot ship into the promoted volumes.
   */
  Promotion promotePeer(String siteId, boolean force, String volume, Long seq, Instant at) {
    return peer.roles()
        .whileLocked(
            "promote --peer " + siteId,
            Site.DEFAULT_ROLE_TIMEOUT,
            () -> promotePeerLocked(siteId, force, volume, seq, at));
  }

  private Promotion promotePeerLocked(
      String siteId, boolean force, String volume, Long seq, Instant at) {
    PeerConfig pc =
        config.peers().stream().filter(p -> p.siteId().equals(siteId)).findFirst().orElse(null);
    if (pc == null) {
      throw new Promotion.RefusedException(
          "standby "
              + config.siteId()
              + " has no peer \""
              + siteId
              + "\" (peers: "
              + String.join(", ", config.peerSiteIds())
              + ")");
    }
    PromotedPeers promoted = peer.promotedPeers();
    PromotedPeers.PeerPromotion earlier = promoted.of(siteId);
    if (earlier != null) {
      throw new Promotion.RefusedException(
          "the volumes of peer "
              + siteId
              + " were promoted on "
              + config.siteId()
              + " already, at "
              + earlier.at());
    }
    if (volume != null && !pc.holds(volume)) {
      throw new Promotion.RefusedException(
          "volume "
              + volume
              + " is not one of peer "
              + siteId
              + "'s (its volumes: "
              + String.join(", ", pc.volumes().stream().map(v -> v.name()).toList())
              + ")");
    }
    List<VolumeRuntime.Standby> targets = new ArrayList<>();
    List<String> inconsistent = new ArrayList<>();
    for (VolumeRuntime v : peer.volumes()) {
      if (v instanceof VolumeRuntime.Standby r && pc.holds(v.name())) {
        targets.add(r);
        if (!r.sink().consistent()) {
          inconsistent.add(v.name());
        }
      }
    }
    if (!inconsistent.isEmpty() && !force) {
      throw new Promotion.RefusedException(
          "volume(s) "
              + String.join(", ", inconsistent)
              + " of peer "
              + siteId
              + " are inconsistent: a resync was interrupted, so the replica"
              + " mixes old and new regions; promote --peer "
              + siteId
              + " --force accepts them as they are");
    }
    long start = nanoClock.nanoTime();
    List<String> names = targets.stream().map(VolumeRuntime::name).toList();
    promoted.refuse(siteId); // before its connection ends: it cannot come back in between
    // Set once replication of the peer's volumes stops (appliers closed): no undoing from there.
    boolean[] cut = {false};
    boolean recorded = false;
    try {
      awaitDisconnected(siteId);
      String why = "peer " + siteId + " is being promoted";
      if (seq != null || at != null) {
        rollBack(
            name -> pc.holds(name) && (volume == null || volume.equals(name)),
            volume,
            seq,
            at,
            () -> {
              cut[0] = true;
              drills.stop(names, why);
            });
      } else {
        drills.stop(names, why);
      }
      cut[0] = true;
      List<Promotion.VolumeAt> points = new ArrayList<>();
      for (VolumeRuntime.Standby r : targets) {
        r.applier().close();
        r.applier().catchUp(); // everything received is applied: the point recorded is exact
        points.add(
            new Promotion.VolumeAt(r.name(), r.applier().appliedSeq(), r.sink().consistent()));
      }
      String when = clock.instant().toString();
      boolean forced = force && !inconsistent.isEmpty();
      promoted.record(new PromotedPeers.PeerPromotion(siteId, when, forced, points));
      recorded = true;
      List<Promotion.VolumeAt> turned = peer.promotePeer(siteId);
      drills.promoted(names, "peer " + siteId + " is promoted");
      Promotion promotion =
          new Promotion(when, forced, turned, nanoClock.nanosSince(start) / 1_000_000);
      LOG.log(
          Level.WARNING,
          "standby {0}: the volumes of peer {1} PROMOTED in {2} ms{3}: {4}; {1} is refused as"
              + " stale from now on, the other peers keep replicating",
          config.siteId(),
          siteId,
          promotion.millis(),
          forced ? " (forced over inconsistent volumes)" : "",
          turned);
      return promotion;
    } finally {
      if (!cut[0]) {
        promoted.admit(siteId); // nothing was changed: it may reconnect
      } else if (!recorded) {
        LOG.log(
            Level.WARNING,
            "standby {0}: the promotion of peer {1} failed after its replication was stopped; it"
                + " stays refused until this site restarts",
            config.siteId(),
            siteId);
      }
    }
  }

  /** Ends {@code siteId}'s connection and waits, bounded, for its stores under way to settle. */
  private void awaitDisconnected(String siteId) {
    try {
      peer.disconnectPeer(siteId)
          .get(Site.DEFAULT_ROLE_TIMEOUT.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new Promotion.RefusedException(
          "the stores of peer "
              + siteId
              + " under way did not settle within "
              + Site.DEFAULT_ROLE_TIMEOUT.toSeconds()
              + " s; nothing was promoted (retry)");
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(
          "ending the connection of peer " + siteId + " failed: " + e.getCause(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Promotion.RefusedException("interrupted; nothing was promoted");
    }
  }

  /**
   * Point-in-time failover: rolls every standby volume (or only {@code volume}) back to {@code seq}
   * or to the last entry journaled at or before {@code at} (both within the retained history), then
   * promotes as {@link #promote(boolean)} does; the new data generation starts at that seq and the
   * entries after it are dropped. The rollback is recorded before it starts and completed on the
   * next start if a crash cuts it short (see {@link Rollback}).
   */
  Promotion promoteAt(boolean force, String volume, Long seq, Instant at) {
    requireOnePeer();
    return peer.roles()
        .whileLocked(
            "a point-in-time promotion",
            Site.DEFAULT_ROLE_TIMEOUT,
            () -> {
              rollBack(volume, seq, at);
              return promoteLocked(force);
            });
  }

  private void rollBack(String volume, Long seq, Instant at) {
    if (peer.role() == Role.PRIMARY) {
      throw new Promotion.RefusedException("site " + config.siteId() + " is already the primary");
    }
    rollBack(
        name -> volume == null || volume.equals(name),
        volume,
        seq,
        at,
        () -> {
          drills.stopAll("the site is being promoted to a point in time");
          peer.closeLink(); // nothing more from the old primary, ever: the journal is cut below
        });
  }

  /**
   * Rolls the standby volumes {@code chosen} accepts back to {@code seq} or {@code at}: checked
   * first without side effects, then {@code cut} stops what feeds them, then checked again and
   * rolled back.
   */
  private void rollBack(
      Predicate<String> chosen, String volume, Long seq, Instant at, Runnable cut) {
    if ((seq == null) == (at == null)) {
      throw new Promotion.RefusedException(
          "a point-in-time promotion takes either a seq or a time");
    }
    List<VolumeRuntime.Standby> targets = new ArrayList<>();
    for (VolumeRuntime v : peer.volumes()) {
      if (v instanceof VolumeRuntime.Standby r && chosen.test(v.name())) {
        targets.add(r);
      }
    }
    if (targets.isEmpty()) {
      throw new Promotion.RefusedException(
          "no standby volume "
              + volume
              + " here (volumes: "
              + String.join(", ", peer.volumeNames())
              + ")");
    }
    if (seq != null && targets.size() > 1) {
      throw new Promotion.RefusedException(
          "this site has "
              + targets.size()
              + " volumes: a seq belongs to one of them (name it with --volume), or promote --at a time");
    }
    // Refused without side effects when a point is outside a window: checked on the running replica
    // first, then again once everything received is applied.
    for (VolumeRuntime.Standby r : targets) {
      History h = drills.history(r.name());
      try {
        r.applier()
            .paused(
                () -> {
                  long applied = r.applier().appliedSeq();
                  h.check(seq != null ? seq : h.seqAt(at, applied), applied);
                  return null;
                });
      } catch (History.OutsideWindowException e) {
        throw new Promotion.RefusedException(e.getMessage());
      }
    }
    cut.run();
    Map<String, Long> points = new LinkedHashMap<>();
    for (VolumeRuntime.Standby r : targets) {
      r.applier().close();
      r.applier().catchUp();
      History h = drills.history(r.name());
      long applied = r.applier().appliedSeq();
      try {
        long n = seq != null ? seq : h.seqAt(at, applied);
        h.check(n, applied);
        points.put(r.name(), n);
      } catch (History.OutsideWindowException e) {
        throw new Promotion.RefusedException(
            e.getMessage()
                + "; nothing was changed (replication has stopped applying: restart the site to resume it)");
      }
    }
    for (VolumeRuntime.Standby r : targets) {
      String name = r.name();
      long n = points.get(name);
      if (n < r.applier().appliedSeq()) {
        Rollback.run(name, runtimes.stream(name), drills.history(name), r.file(), n);
        r.applier().resetTo(n);
      }
    }
  }
}
