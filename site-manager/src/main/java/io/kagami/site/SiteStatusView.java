package io.kagami.site;

import io.kagami.journal.Journal;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.resync.Backlog;
import io.kagami.replicator.verify.ReplicaVerifier;
import io.kagami.site.admin.LinkStatus;
import io.kagami.site.admin.PeerStatus;
import io.kagami.site.admin.SiteStatus;
import io.kagami.site.admin.VolumeStatus;
import io.kagami.site.config.HostPort;
import io.kagami.site.config.PeerConfig;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import io.kagami.site.config.VolumeConfig;
import io.kagami.site.failover.FailoverController;
import io.kagami.site.failover.FailoverStatus;
import io.kagami.site.link.JournalReceiveSink;
import io.kagami.wan.receive.ReceiverSnapshot;
import io.kagami.wan.ship.LinkSnapshot;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;

/**
 * The snapshot {@code GET /status}, {@code kagami status} and the metrics show: the site's role,
 * its link and each volume's figures and state, derived from live values so the status never lags a
 * change. Read-only: it changes nothing it looks at.
 *
 * <p>Called on any thread (admin HTTP, metrics scrape, housekeeping); never blocks, never takes a
 * role-change or housekeeping lock (the peer's volume table is a snapshot it reads as it is). An
 * N:1 standby: each volume's connection state is its own primary's, and {@code peers} lists each
 * primary's link and figures.
 */
final class SiteStatusView {
  private final SiteConfig config;
  private final Peer peer;
  private final Journal journal;
  private final Drills drills;

  /** Null without a failover section. */
  private final FailoverController failover;

  private final IntSupplier nbdPort;

  SiteStatusView(
      SiteConfig config,
      Peer peer,
      Journal journal,
      Drills drills,
      FailoverController failover,
      IntSupplier nbdPort) {
    this.config = config;
    this.journal = journal;
    this.peer = peer;
    this.drills = drills;
    this.failover = failover;
    this.nbdPort = nbdPort;
  }

  /** The host part of an NBD URI for {@code listen}: a wildcard address is reached on loopback. */
  static String uriHost(HostPort listen) {
    String h = listen.host();
    return h.equals("0.0.0.0") || h.equals("::") ? "127.0.0.1" : h;
  }

  SiteStatus status() {
    SiteLink link = peer.link();
    boolean connected = link != null && link.status().connected();
    Role role = peer.role();
    boolean fenced = failover != null && role == Role.PRIMARY && !failover.writeFence().open();
    List<VolumeStatus> vs = new ArrayList<>();
    for (VolumeRuntime v : peer.volumes()) {
      vs.add(
          switch (v) {
            // N:1: a primary volume is a promoted peer's, with no standby of its own.
            case VolumeRuntime.Primary p -> primary(p, link, connected && !config.nToOne(), fenced);
            case VolumeRuntime.Standby r -> standby(r, connected(link, r, connected));
          });
    }
    // Each volume names its peer: on an N:1 standby, the primary it belongs to.
    vs.replaceAll(v -> v.withPeer(config.peerSiteIdOf(v.name())));
    String host = uriHost(config.nbdListen());
    vs.replaceAll(
        v ->
            v.role().equals("standby")
                ? v.withHistory(
                    drills.recoverableFrom(v.name()),
                    drills.drill(v.name(), host, nbdPort.getAsInt()))
                : v);
    LinkStatus ls =
        link == null
            ? new LinkStatus(false, config.wan().peerSiteId(), null, 0, 0, null)
            : link.status();
    FailoverStatus fs = failover == null ? null : failover.status();
    String roleChange = peer.roleChangeInProgress();
    if (fs != null && roleChange != null) {
      fs = fs.fencedFor(roleChange);
    }
    String roleLabel = role == null ? config.role().label() : role.label();
    boolean accepting = role == Role.PRIMARY && roleChange == null && (fs == null || !fs.fenced());
    String nbdAddress =
        config.nbdListen().host()
            + ":"
            + (nbdPort.getAsInt() == 0 ? config.nbdListen().port() : nbdPort.getAsInt());
    return new SiteStatus(
        config.siteId(),
        roleLabel,
        nbdAddress,
        ls,
        vs,
        fs,
        accepting,
        config.nToOne() ? peers(link, vs) : null);
  }

  /**
   * Whether standby volume {@code r}'s primary is connected: on an N:1 standby its own peer's
   * connection, whatever the others do; else the link's state.
   */
  private boolean connected(SiteLink link, VolumeRuntime.Standby r, boolean linkUp) {
    if (!config.nToOne()) {
      return linkUp;
    }
    return link instanceof SiteLink.Standby s
        && s.peer(config.peerSiteIdOf(r.config().name())) != null;
  }

  /** An N:1 standby's primaries, each from its own connection and volumes. */
  private List<PeerStatus> peers(SiteLink link, List<VolumeStatus> vs) {
    List<PeerStatus> out = new ArrayList<>();
    for (PeerConfig pc : config.peers()) {
      ReceiverSnapshot.Peer conn = link instanceof SiteLink.Standby s ? s.peer(pc.siteId()) : null;
      PromotedPeers.PeerPromotion promoted = peer.promotedPeers().of(pc.siteId());
      List<String> names = new ArrayList<>();
      long received = 0;
      long lagBytes = 0;
      double lagSeconds = 0;
      for (VolumeRuntime v : peer.volumes()) {
        if (pc.holds(v.name()) && v instanceof VolumeRuntime.Standby r) {
          received += r.sink().receivedBytes();
        }
      }
      for (VolumeStatus v : vs) {
        if (pc.holds(v.name())) {
          names.add(v.name());
          lagBytes += v.lagBytes();
          lagSeconds = Math.max(lagSeconds, v.lagSeconds());
        }
      }
      out.add(
          new PeerStatus(
              pc.siteId(),
              conn != null,
              conn == null ? null : conn.remoteAddress(),
              conn == null ? null : conn.since().toString(),
              names,
              received,
              lagBytes,
              lagSeconds,
              promoted == null ? PeerStatus.REPLICATING : PeerStatus.PROMOTED,
              promoted == null ? null : promoted.at()));
    }
    return out;
  }

  private static VolumeStatus primary(
      VolumeRuntime.Primary p, SiteLink link, boolean connected, boolean fenced) {
    VolumeConfig vc = p.config();
    JournalStream s = p.device().stream();
    long acked = p.source().peerDurableSeq();
    LinkSnapshot.VolumeProgress progress = link == null ? null : link.progress(vc.name());
    String full = primaryDiskFull(p);
    String err =
        full != null
            ? full
            : s.failure() != null
                ? s.failure().getMessage()
                : progress != null ? progress.stalled() : null;
    Long resumed = progress == null || !connected ? null : progress.resumedFromSeq();
    long sent = progress == null ? acked : Math.max(acked, progress.lastSentSeq());
    long history = s.bytesAfter(sent);
    double rate = progress == null ? 0 : progress.rawSendRateBytesPerSecond();
    Double eta = history > 0 && rate > 0 ? history / rate : null;
    VolumeState state =
        fenced
            ? VolumeState.FENCED
            : full != null ? VolumeState.DISK_FULL : primaryState(p, connected, err);
    return new VolumeStatus(
            vc.name(),
            "primary",
            vc.mode().label(),
            state,
            vc.sizeBytes(),
            s.lastSeq(),
            acked,
            null,
            resumed,
            s.writeBytesAfter(acked),
            vc.historyCapacityBytes(),
            lagSeconds(s, acked),
            history,
            lagSeconds(s, sent),
            eta,
            p.source().resyncProgress(),
            err)
        .withLastWrite(s.lastWriteSeq());
  }

  private VolumeStatus standby(VolumeRuntime.Standby r, boolean connected) {
    VolumeConfig vc = r.config();
    JournalStream s = journal.stream(vc.name());
    long applied = r.applier().appliedSeq();
    long appliedWrite = r.applier().appliedWriteSeq();
    String full = r.applier().diskFull() != null ? r.applier().diskFull() : s.diskFull();
    String failure = r.applier().failure() != null ? r.applier().failure() : full;
    VolumeState state =
        r.applier().failure() != null
            ? VolumeState.DEGRADED
            : full != null
                ? VolumeState.DISK_FULL
                : r.sink().consistent() ? VolumeState.REPLICATING : VolumeState.INCONSISTENT;
    long lagBytes = s.writeBytesAfter(applied);
    double lagSeconds = lagSeconds(s, applied);
    JournalReceiveSink.HeadSeen seen = r.sink().lastHead();
    VolumeStatus.PrimaryView primaryView = null;
    if (seen != null) {
      primaryView =
          new VolumeStatus.PrimaryView(
              seen.receivedAt().toString(),
              seen.secondsSince(),
              seen.head().lastJournaledSeq(),
              seen.head().unackedBytes());
    }
    if (!connected) {
      if (state == VolumeState.REPLICATING) {
        state = VolumeState.DISCONNECTED;
      }
      Lag lost = lostSinceContact(seen, s.lastSeq(), r.sink().receivedBytes());
      lagBytes += lost.bytes();
      lagSeconds = Math.max(lagSeconds, lost.seconds());
    }
    return new VolumeStatus(
            vc.name(),
            "standby",
            vc.mode().label(),
            state,
            vc.sizeBytes(),
            s.lastSeq(),
            null,
            applied,
            null,
            lagBytes,
            vc.historyCapacityBytes(),
            lagSeconds,
            null,
            null,
            null,
            null,
            failure,
            null,
            null,
            primaryView)
        .withVerify(verifyStatus(r.sink()))
        .withLastWrite(appliedWrite);
  }

  private static VolumeStatus.Verify verifyStatus(JournalReceiveSink sink) {
    ReplicaVerifier.Snapshot v = sink.verifier().snapshot();
    ReplicaVerifier.Mismatch m = v.lastMismatch();
    long[] pending = sink.repairPending();
    boolean passed = v.lastPassAt() != null;
    return new VolumeStatus.Verify(
        v.regionsChecked(),
        v.bytesChecked(),
        v.mismatches(),
        passed ? v.lastPassNumber() : null,
        passed ? v.lastPassSeq() : null,
        passed ? v.lastPassAt().toString() : null,
        v.checkedThroughSeq(),
        m == null
            ? null
            : "region " + m.offset() + "+" + m.length() + " differed at seq " + m.pointSeq(),
        pending == null ? null : pending[0] + ".." + (pending[1] - 1));
  }

  /**
   * Why a primary volume is out of space (its journal refuses appends, or its volume file waits for
   * room), or null.
   */
  private static String primaryDiskFull(VolumeRuntime.Primary p) {
    String journalFull = p.device().stream().diskFull();
    if (journalFull != null) {
      return journalFull;
    }
    return p.device().diskFull();
  }

  /** A lag a disconnected standby can prove, in bytes and seconds. */
  record Lag(long bytes, double seconds) {}

  /**
   * What a standby without its primary can prove it lacks: the primary's unacknowledged bytes at
   * the last heartbeat, less what arrived after it, when the primary had journaled beyond what this
   * site holds; and at least the time since that heartbeat (the primary may have written since,
   * unseen), plus the age of the oldest entry it still lacks. Never 0 once a heartbeat was seen:
   * the time since the last contact only grows.
   */
  static Lag lostSinceContact(
      JournalReceiveSink.HeadSeen seen, long localLastSeq, long receivedBytes) {
    if (seen == null) {
      return new Lag(0, 0);
    }
    double since = seen.secondsSince();
    // Writes missing: the head counts unacknowledged writes only, so verification points the
    // primary journaled since this site's last entry are not a loss.
    boolean missing =
        seen.head().lastJournaledSeq() > localLastSeq && seen.head().unackedBytes() > 0;
    if (!missing) {
      return new Lag(0, since);
    }
    long arrivedAfter = Math.max(0, receivedBytes - seen.receivedBytesAtHead());
    long bytes = Math.max(1, seen.head().unackedBytes() - arrivedAfter);
    return new Lag(bytes, since + seen.head().oldestUnackedMillis() / 1000.0);
  }

  /**
   * Where a primary volume stands, from live figures, with the tracker's view of whether history
   * keeps growing for the buffering/replicating distinction.
   */
  private static VolumeState primaryState(
      VolumeRuntime.Primary p, boolean connected, String error) {
    Backlog b = p.backlog();
    if (error != null) {
      return VolumeState.DEGRADED;
    }
    if (p.source().resyncing() || (connected && b.needsResync() && !b.overflowed())) {
      return b.fullCopy() ? VolumeState.INITIAL_SYNC : VolumeState.RESYNCING;
    }
    if (b.needsResync()) {
      return VolumeState.BITMAP;
    }
    if (p.sync() != null) {
      switch (p.sync().state()) {
        case DEGRADED -> {
          return VolumeState.DEGRADED;
        }
        case BLOCKED -> {
          return VolumeState.BLOCKED;
        }
        case SYNC -> {}
      }
    }
    if (!connected) {
      return VolumeState.BUFFERING;
    }
    return p.state().growing() ? VolumeState.BUFFERING : VolumeState.REPLICATING;
  }

  /**
   * The age of the oldest write after {@code upTo} (verification points are not lag), on the
   * monotonic clock: a step of the wall clock is no lag.
   */
  private static double lagSeconds(JournalStream s, long upTo) {
    long age = s.writeLagAgeMillis(upTo);
    return age < 0 ? 0.0 : age / 1000.0;
  }
}
