package io.kagami.site;

import io.kagami.site.admin.PeerStatus;
import io.kagami.site.admin.SiteStatus;
import io.kagami.site.admin.VolumeStatus;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import io.kagami.site.config.VolumeConfig;
import java.lang.System.Logger.Level;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import java.util.function.Supplier;

/**
 * Turns what a site observes into its structured, rate-limited state-change log ({@link
 * StateChangeLog}): the role at start and at every role change, each volume's mode, and — once per
 * housekeeping tick — the link and each volume's state. Feeds each volume's {@link
 * VolumeStateTracker} the observation that tells buffering from replicating.
 *
 * <p>Thread-safe (one lock, its own, held while it takes a snapshot and logs): called on the
 * starting thread, the housekeeping thread and role changes' threads. Reads a fresh status
 * snapshot; never blocks on anything but that and the logger.
 */
final class StateObserver {
  private static final System.Logger LOG = System.getLogger(StateObserver.class.getName());

  private final SiteConfig config;
  private final Peer peer;
  private final Supplier<SiteStatus> status;
  private final StateChangeLog changes;
  private final Object lock = new Object();

  /** Last link state logged, per peer site id; guarded by lock. */
  private final Map<String, Boolean> linkWasUp = new LinkedHashMap<>();

  StateObserver(SiteConfig config, InstantSource clock, Peer peer, Supplier<SiteStatus> status) {
    this.config = config;
    this.peer = peer;
    this.status = status;
    this.changes =
        new StateChangeLog(
            line -> LOG.log(Level.INFO, line),
            clock,
            StateChangeLog.DEFAULT_BURST,
            StateChangeLog.DEFAULT_WINDOW);
  }

  /** The site started: its role and each volume's mode, then a first observation. */
  void started() {
    synchronized (lock) {
      changes.changed("role", ids("site", config.siteId()), null, peer.role().label(), Map.of());
      for (VolumeConfig vc : config.volumes()) {
        SequencedMap<String, String> ids = ids("site", config.siteId());
        ids.put("volume", vc.name());
        changes.changed("mode", ids, null, vc.mode().label(), Map.of());
      }
    }
    observe();
  }

  /** A role change completed: from {@code from} to the role in force now. */
  void roleChanged(Role from, Map<String, String> extra) {
    synchronized (lock) {
      changes.changed(
          "role", ids("site", config.siteId()), from.label(), peer.role().label(), extra);
      changes.flush();
    }
  }

  /** One observation of the link and each volume's state, with a log line for every change. */
  void observe() {
    synchronized (lock) {
      // The snapshot under the lock too: two observers never log their snapshots out of order.
      SiteStatus now = status.get();
      // Each peer's link on its own (an N:1 standby has one per primary; otherwise one).
      Map<String, Boolean> upByPeer = new LinkedHashMap<>();
      Map<String, String> errorByPeer = new LinkedHashMap<>();
      if (now.peers() != null) {
        for (PeerStatus p : now.peers()) {
          upByPeer.put(p.siteId(), p.connected());
        }
      } else {
        upByPeer.put(config.wan().peerSiteId(), now.link().connected());
        if (now.link().lastError() != null) {
          errorByPeer.put(config.wan().peerSiteId(), now.link().lastError());
        }
      }
      for (Map.Entry<String, Boolean> e : upByPeer.entrySet()) {
        boolean up = e.getValue();
        Boolean was = linkWasUp.get(e.getKey());
        if (was == null || was != up) {
          String error = errorByPeer.get(e.getKey());
          Map<String, String> extra = up || error == null ? Map.of() : Map.of("error", error);
          SequencedMap<String, String> ids = ids("site", config.siteId());
          ids.put("peer", e.getKey());
          changes.changed(
              "link", ids, was == null ? null : was ? "up" : "down", up ? "up" : "down", extra);
          linkWasUp.put(e.getKey(), up);
        }
      }
      for (VolumeStatus vs : now.volumes()) {
        VolumeRuntime v = peer.volume(vs.name());
        v.state()
            .observe(
                new VolumeStateTracker.Observation(
                    v instanceof VolumeRuntime.Primary,
                    upByPeer.getOrDefault(vs.peer(), now.link().connected()),
                    vs.lagBytes(),
                    vs.error() != null));
        VolumeState before = v.state().logged();
        VolumeState after = vs.state();
        v.state().logged(after);
        if (after != before) {
          SequencedMap<String, String> ids = ids("site", config.siteId());
          ids.put("volume", vs.name());
          changes.changed(
              "state",
              ids,
              before.label(),
              after.label(),
              vs.error() == null ? Map.of() : Map.of("error", vs.error()));
        }
      }
      changes.flush();
    }
  }

  private static SequencedMap<String, String> ids(String key, String value) {
    SequencedMap<String, String> m = new LinkedHashMap<>();
    m.put(key, value);
    return m;
  }
}
