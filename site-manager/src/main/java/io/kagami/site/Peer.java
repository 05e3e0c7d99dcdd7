package io.kagami.site;

import io.kagami.clock.SystemTime;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import io.kagami.site.config.VolumeConfig;
import io.kagami.site.link.JournalReceiveSink;
import io.kagami.site.link.JournalShipSource;
import io.kagami.wan.receive.PeerLog;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Everything a site has towards one peer site: the role it runs towards it ({@link PeerRole}), the
 * WAN link (a shipper to it, or a receiver for it), the volumes replicated with it and their NBD
 * exports. Role changes turn all of it at once ({@link #becomePrimary}, {@link #becomeStandby});
 * nothing here touches another peer's link, volumes or role.
 *
 * <p>An N:1 standby (a {@code peers:} list) has one {@code Peer} holding every primary's volumes,
 * each under its namespaced name ({@code tokyo.vol0}, see {@link
 * io.kagami.site.config.PeerConfig}); the receiver keeps each primary's connection, queues and
 * back-pressure apart, so a cut, overflow or resync of one primary stays with its volumes. Such a
 * standby refuses a whole-site promotion ({@link Site#promote(boolean)}); one primary's volumes are
 * promoted alone ({@link #promotePeer}, recorded in {@link PromotedPeers}): they turn into writable
 * primaries while the receiver goes on serving the other primaries, and that primary is refused
 * from then on. The site's role stays standby.
 *
 * <p>Threads: the volume table is swapped whole, copy-on-write, under {@link #volumesLock}, so the
 * status, the admin surface and the link's suppliers read it from any thread without waiting;
 * housekeeping's per-volume work holds the same lock so it never works on a volume being turned.
 * Turning volumes runs on the role change's thread and may block on disk and on bounded futures
 * (see {@link VolumeRuntimes}); the lock is never held while waiting on the network.
 */
final class Peer implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Peer.class.getName());

  private final SiteConfig config;
  private final InstantSource clock;
  private final PeerRole role;
  private final VolumeRuntimes runtimes;
  private final PromotedPeers promotedPeers;

  /** Serializes volume swaps with housekeeping's per-volume work. */
  private final Object volumesLock = new Object();

  /** Immutable snapshot, in configuration order; replaced whole under volumesLock. */
  private volatile SequencedMap<String, VolumeRuntime> volumes =
      Collections.unmodifiableSequencedMap(new LinkedHashMap<>());

  /** Fixed once {@link #open} returns. */
  private final Map<String, SwitchableDevice> exports = new LinkedHashMap<>();

  private volatile SiteLink link;
  private SiteLink.Takeover takeover;

  /**
   * The per-address limit on the WAN receiver's lines about its clients; one for the site's
   * lifetime, shared by every receiver its role changes create, so its dropped count is the site's.
   */
  private final PeerLog wanLog = new PeerLog(SystemTime.NANO);

  Peer(
      SiteConfig config,
      InstantSource clock,
      PeerRole role,
      VolumeRuntimes runtimes,
      PromotedPeers promotedPeers) {
    this.config = config;
    this.clock = clock;
    this.role = role;
    this.runtimes = runtimes;
    this.promotedPeers = promotedPeers;
  }

  /** The primaries of an N:1 standby promoted here (none on a 1:1 site). */
  PromotedPeers promotedPeers() {
    return promotedPeers;
  }

  String peerSiteId() {
    return config.wan().peerSiteId();
  }

  PeerRole roles() {
    return role;
  }

  /** Lines about WAN clients the log limit dropped since the site started. */
  long droppedWanLogLines() {
    return wanLog.dropped();
  }

  Role role() {
    return role.role();
  }

  /**
   * Opens every volume for the recorded role, each behind a switchable export; the volumes of a
   * promoted peer of an N:1 standby as primaries (no standby in sync).
   */
  void open() {
    SequencedMap<String, VolumeRuntime> opened = new LinkedHashMap<>();
    for (VolumeConfig vc : config.volumes()) {
      boolean peerPromoted =
          config.nToOne() && promotedPeers.promoted(config.peerSiteIdOf(vc.name()));
      VolumeRuntime v =
          peerPromoted
              ? runtimes.open(vc, Role.PRIMARY, true)
              : runtimes.open(vc, role.role(), role.promotedByFailover());
      opened.put(vc.name(), v);
      exports.put(vc.name(), new SwitchableDevice(v.device()));
    }
    volumes = Collections.unmodifiableSequencedMap(opened);
  }

  /** What a standby does when this peer hands over in a planned switchover; set before start. */
  void onHandover(SiteLink.Takeover takeover) {
    this.takeover = takeover;
  }

  /** The volumes as they run now (a snapshot: a role change swaps them afterwards). */
  Collection<VolumeRuntime> volumes() {
    return volumes.values();
  }

  VolumeRuntime volume(String name) {
    return volumes.get(name);
  }

  Collection<String> volumeNames() {
    return volumes.keySet();
  }

  /** Each volume's export, in configuration order. */
  Map<String, SwitchableDevice> exports() {
    return Collections.unmodifiableMap(exports);
  }

  /** Runs {@code work} on each volume while no role change can turn one. */
  void forEachVolumeLocked(Consumer<VolumeRuntime> work) {
    synchronized (volumesLock) {
      for (VolumeRuntime v : volumes.values()) {
        work.accept(v);
      }
    }
  }

  // ---- the link ----

  /**
   * The link for the current role, or null (none configured for it, or closed for a role change).
   */
  SiteLink link() {
    return link;
  }

  /** True once a primary's link is up (a standby: once its primary is connected). */
  boolean linkConnected() {
    SiteLink l = link;
    return l != null && l.status().connected();
  }

  /**
   * True while this site ships to a connected standby: its primary volumes have someone to verify
   * them. False on an N:1 standby whose link (a receiver) is connected to other primaries: the
   * volumes of a peer promoted here have no standby, and points placed for them would only grow a
   * history nobody reads.
   */
  boolean shippingConnected() {
    return link instanceof SiteLink.Primary l && l.status().connected();
  }

  /**
   * Starts the link for the current role: a shipper to wan.peer on a primary, a receiver on
   * wan.listen on a standby; none when the address that role needs is not configured (a promoted
   * standby without wan.peer runs alone, its history accumulating for a later failback).
   */
  void startLink() {
    Role r = role.role();
    if (r == Role.PRIMARY && config.wan().peer() == null) {
      LOG.log(
          Level.WARNING,
          "site {0} runs as primary without a standby: wan.peer is not configured, so nothing is replicated",
          config.siteId());
      return;
    }
    if (r == Role.STANDBY && config.wan().listen() == null) {
      return;
    }
    SiteLink next =
        SiteLink.create(
            config,
            r,
            clock,
            this::shipSources,
            this::receiveSinks,
            takeover,
            wanLog,
            promotedPeers::refusal);
    next.start();
    link = next;
  }

  /** Closes the link for good (a role change opens the next one with {@link #startLink}). */
  void closeLink() {
    SiteLink old = link;
    link = null;
    if (old != null) {
      old.close();
    }
  }

  private List<JournalShipSource> shipSources() {
    List<JournalShipSource> out = new ArrayList<>();
    for (VolumeRuntime v : volumes.values()) {
      if (v instanceof VolumeRuntime.Primary p) {
        out.add(p.source());
      }
    }
    return out;
  }

  private Map<String, JournalReceiveSink> receiveSinks() {
    Map<String, JournalReceiveSink> out = new LinkedHashMap<>();
    for (VolumeRuntime v : volumes.values()) {
      if (v instanceof VolumeRuntime.Standby s) {
        out.put(v.name(), s.sink());
      }
    }
    return out;
  }

  /**
   * Ends primary {@code siteId}'s connection to this standby's receiver (the other primaries keep
   * theirs); completes once its stores under way settled. Already complete without a receiver.
   */
  CompletableFuture<Void> disconnectPeer(String siteId) {
    return link instanceof SiteLink.Standby s
        ? s.disconnect(siteId)
        : CompletableFuture.completedFuture(null);
  }

  // ---- turning the volumes ----

  /**
   * N:1: the standby volumes of primary {@code siteId} (and only those) become primaries in place,
   * as {@link #becomePrimary} turns them all; the site's role and every other volume stay as they
   * are. Returns what each volume held. Under the role lock, with that primary disconnected and
   * refused.
   */
  List<Promotion.VolumeAt> promotePeer(String siteId) {
    synchronized (volumesLock) {
      return turnToPrimary(volume -> siteId.equals(config.peerSiteIdOf(volume)), true);
    }
  }

  /**
   * Every standby volume becomes a primary one in place (applied through what it received, a new
   * data generation, the export read-write); the role is primary afterwards. Returns what each
   * volume held. Under the role lock, with the link closed.
   */
  List<Promotion.VolumeAt> becomePrimary(boolean noStandbyInSync) {
    synchronized (volumesLock) {
      List<Promotion.VolumeAt> at = turnToPrimary(volume -> true, noStandbyInSync);
      role.role(Role.PRIMARY);
      return at;
    }
  }

  /**
   * The standby volumes {@code which} names become primaries in place (applied through what they
   * received, a new data generation, the export read-write); returns what each held. Holding {@link
   * #volumesLock}.
   */
  private List<Promotion.VolumeAt> turnToPrimary(
      java.util.function.Predicate<String> which, boolean noStandbyInSync) {
    List<Promotion.VolumeAt> at = new ArrayList<>();
    SequencedMap<String, VolumeRuntime> next = new LinkedHashMap<>(volumes);
    try {
      for (Map.Entry<String, VolumeRuntime> e : next.entrySet()) {
        if (e.getValue() instanceof VolumeRuntime.Standby r && which.test(e.getKey())) {
          boolean consistent = r.sink().consistent();
          VolumeRuntime.Primary p = runtimes.toPrimary(r, noStandbyInSync);
          e.setValue(p);
          SwitchableDevice export = exports.get(e.getKey());
          export.replace(p.device());
          export.unfence();
          at.add(new Promotion.VolumeAt(e.getKey(), p.device().stream().lastSeq(), consistent));
        }
      }
    } finally {
      // Volumes turned before a failure stay turned, and are shown and housekept as such.
      volumes = Collections.unmodifiableSequencedMap(next);
    }
    return at;
  }

  /**
   * Every primary volume becomes a standby one in place, once its volume file holds everything
   * journaled (waited for up to {@code timeout} each); the role is standby afterwards. Under the
   * role lock, with the exports fenced and the link closed.
   */
  void becomeStandby(Duration timeout) {
    synchronized (volumesLock) {
      SequencedMap<String, VolumeRuntime> next = new LinkedHashMap<>(volumes);
      try {
        for (Map.Entry<String, VolumeRuntime> e : next.entrySet()) {
          if (e.getValue() instanceof VolumeRuntime.Primary p) {
            VolumeRuntime.Standby r = runtimes.toStandby(p, timeout);
            e.setValue(r);
            SwitchableDevice export = exports.get(e.getKey());
            export.replace(r.device());
            export.unfence(); // the replica refuses writes itself
          }
        }
      } finally {
        volumes = Collections.unmodifiableSequencedMap(next);
      }
      role.role(Role.STANDBY);
    }
  }

  /**
   * This primary becomes a standby in place: link closed, volumes turned ({@link #becomeStandby}),
   * receiver listening. Returns the future of the peer dialing the new receiver (never completing
   * when this site has no receiver).
   */
  CompletableFuture<Void> becomeStandbyInPlace(Duration timeout) {
    closeLink();
    becomeStandby(timeout);
    startLink();
    return link instanceof SiteLink.Standby s ? s.peerDialed() : new CompletableFuture<>();
  }

  // ---- fencing the exports for a role change ----

  /**
   * Every export refuses modifications with EPERM and {@code why} from now on; completes once those
   * already started have completed.
   */
  CompletableFuture<Void> fenceExports(String why) {
    List<CompletableFuture<Void>> drained = new ArrayList<>();
    for (SwitchableDevice export : exports.values()) {
      drained.add(export.fence(why));
    }
    return CompletableFuture.allOf(drained.toArray(CompletableFuture[]::new));
  }

  /** The exports take modifications again (a role change was called off). */
  void unfenceExports() {
    for (SwitchableDevice export : exports.values()) {
      export.unfence();
    }
  }

  /** Why the exports refuse writes for a role change (switchover, failback) under way, or null. */
  String roleChangeInProgress() {
    for (SwitchableDevice export : exports.values()) {
      if (export.fenced() != null) {
        return export.fenced();
      }
    }
    return null;
  }

  /** Closes the link in force now (the volumes' parts belong to the site's resources). */
  @Override
  public void close() {
    closeLink();
  }
}
