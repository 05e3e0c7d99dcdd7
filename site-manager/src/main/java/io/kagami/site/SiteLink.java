package io.kagami.site;

import io.kagami.site.admin.LinkStatus;
import io.kagami.site.config.PeerConfig;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import io.kagami.site.link.BandwidthControl;
import io.kagami.site.link.JournalReceiveSink;
import io.kagami.site.link.JournalShipSource;
import io.kagami.wan.receive.LinkRefusedException;
import io.kagami.wan.receive.PeerLog;
import io.kagami.wan.receive.ReceiveSink;
import io.kagami.wan.receive.Receiver;
import io.kagami.wan.receive.ReceiverCatalog;
import io.kagami.wan.receive.ReceiverConfig;
import io.kagami.wan.receive.ReceiverSnapshot;
import io.kagami.wan.ship.LinkSnapshot;
import io.kagami.wan.ship.ShipSource;
import io.kagami.wan.ship.Shipper;
import io.kagami.wan.ship.ShipperConfig;
import io.kagami.wan.tls.SiteCredentials;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * The site's end of the WAN link: a shipper on a primary, a receiver on a standby. A standby trusts
 * each configured peer's certificate and its catalog routes each peer's volumes to that peer's
 * sinks (on an N:1 standby, a peer's {@code vol0} is the local {@code <peer>.vol0}); the receiver
 * keeps each peer's connection, volume chains and back-pressure apart. A peer whose volumes an N:1
 * standby promoted is refused at its HELLO with the reason {@code refusedPeer} gives, and the link
 * counts as up while every peer still replicating is connected.
 */
public abstract sealed class SiteLink implements AutoCloseable
    permits SiteLink.Primary, SiteLink.Standby {

  /** Generates the site's key pair if absent; returns its certificate file. */
  public static Path ensureCredentials(Path tlsDir, String siteId) {
    return SiteCredentials.loadOrCreate(tlsDir, siteId).certificateFile();
  }

  /** What a standby does when its primary hands over in a planned switchover. */
  interface Takeover {
    /**
     * Verify and record this site as the primary; completes when recorded (see ReceiverCatalog).
     */
    CompletableFuture<Void> handover(String site, Map<String, Long> endSeqs);

    /** The old primary was told; take over now (never on the caller's event loop). */
    void handedOver(String site);
  }

  static SiteLink create(
      SiteConfig config,
      Role role,
      InstantSource clock,
      Supplier<List<JournalShipSource>> sources,
      Supplier<Map<String, JournalReceiveSink>> sinks,
      Takeover takeover,
      PeerLog clientLog,
      Function<String, String> refusedPeer) {
    SiteCredentials own =
        config.wan().certificate() != null
            ? SiteCredentials.load(config.wan().privateKey(), config.wan().certificate())
            : SiteCredentials.loadOrCreate(config.tlsDir(), config.siteId());
    if (!own.siteId().equals(config.siteId())) {
      throw new IllegalStateException(
          "the configured certificate is for site \""
              + own.siteId()
              + "\", but this site is \""
              + config.siteId()
              + "\"");
    }
    Map<String, X509Certificate> trusted = trustedPeers(config);
    if (role == Role.PRIMARY) {
      X509Certificate peer = trusted.get(config.wan().peerSiteId());
      if (config.wan().peer() == null) {
        throw new IllegalStateException(
            "site "
                + config.siteId()
                + " runs as primary but wan.peer (its standby's WAN address) is not configured");
      }
      ShipperConfig defaults =
          ShipperConfig.defaults(config.wan().peer().host(), config.wan().peer().port(), own, peer);
      // Each volume's window of unacknowledged bytes is its share of the memory budget.
      ShipperConfig sc =
          defaults.withBatching(
              Math.min(defaults.maxBatchBytes(), config.memory().wanWindowBytesPerVolume()),
              defaults.maxBatchDelay(),
              config.memory().wanWindowBytesPerVolume());
      Shipper shipper = new Shipper(sc, new ArrayList<ShipSource>(sources.get()));
      return new Primary(
          shipper,
          new BandwidthControl(
              config.wan().bandwidth(),
              config.wan().bandwidthSchedule(),
              clock,
              shipper::setBandwidth),
          config.wan().peerSiteId());
    }
    if (config.wan().listen() == null) {
      throw new IllegalStateException(
          "site "
              + config.siteId()
              + " runs as standby but wan.listen (where its primary connects) is not configured");
    }
    Map<String, JournalReceiveSink> byName = sinks.get();
    CompletableFuture<Void> peerDialed = new CompletableFuture<>();
    ReceiverConfig rc =
        ReceiverConfig.defaults(
            config.wan().listen().host(),
            config.wan().listen().port(),
            own,
            List.copyOf(trusted.values()));
    Receiver receiver =
        new Receiver(
            rc,
            new ReceiverCatalog() {
              @Override
              public ReceiveSink sink(String site, String volume, long size)
                  throws LinkRefusedException {
                PeerConfig from = null;
                for (PeerConfig p : config.peers()) {
                  if (p.siteId().equals(site)) {
                    from = p;
                  }
                }
                if (from == null) {
                  throw new LinkRefusedException(
                      config.nToOne()
                          ? "site \""
                              + site
                              + "\" is not one of this standby's primaries "
                              + config.peerSiteIds()
                          : "site \""
                              + site
                              + "\" is not this standby's primary (\""
                              + config.wan().peerSiteId()
                              + "\")");
                }
                String refused = refusedPeer.apply(site);
                if (refused != null) {
                  // Its volumes were promoted here: a new generation it must never ship into.
                  throw new LinkRefusedException(refused);
                }
                // Two peers may both offer a "vol0": each gets its own, namespaced volume here.
                JournalReceiveSink sink = byName.get(from.localName(volume));
                if (sink == null || !from.holds(from.localName(volume))) {
                  throw new LinkRefusedException(
                      "volume "
                          + volume
                          + (config.nToOne() ? " of site " + site : "")
                          + " is not configured on standby "
                          + config.siteId());
                }
                if (sink.sizeBytes() != size) {
                  throw new LinkRefusedException(
                      "volume "
                          + volume
                          + " is "
                          + size
                          + " bytes on the primary but "
                          + sink.sizeBytes()
                          + " on standby "
                          + config.siteId());
                }
                peerDialed.complete(null);
                return sink;
              }

              @Override
              public CompletableFuture<Void> handover(String site, Map<String, Long> endSeqs) {
                if (config.nToOne()) {
                  return CompletableFuture.failedFuture(
                      new LinkRefusedException(
                          "standby "
                              + config.siteId()
                              + " receives from several primaries "
                              + config.peerSiteIds()
                              + " and does not take over one of them in a switchover; switch over to a standby of "
                              + site
                              + " alone"));
                }
                return takeover.handover(site, endSeqs);
              }

              @Override
              public void handedOver(String site) {
                takeover.handedOver(site);
              }
            },
            clock,
            clientLog);
    return new Standby(receiver, config, peerDialed, refusedPeer);
  }

  /**
   * Each peer's certificate by its site id, checked against it: its CN must be the configured site
   * id, so the receiver's admission by CN finds the right peer.
   */
  private static Map<String, X509Certificate> trustedPeers(SiteConfig config) {
    Map<String, X509Certificate> out = new LinkedHashMap<>();
    int i = 0;
    for (PeerConfig p : config.peers()) {
      X509Certificate cert = SiteCredentials.readCertificate(p.certificate());
      String cn = SiteCredentials.commonName(cert);
      if (!cn.equals(p.siteId())) {
        throw new IllegalStateException(
            config.nToOne()
                ? "peers["
                    + i
                    + "].certificate is for site \""
                    + cn
                    + "\", but peers["
                    + i
                    + "].siteId is \""
                    + p.siteId()
                    + "\""
                : "wan.peerCertificate is for site \""
                    + cn
                    + "\", but wan.peerSiteId is \""
                    + p.siteId()
                    + "\"");
      }
      out.put(p.siteId(), cert);
      i++;
    }
    return out;
  }

  abstract void start();

  abstract LinkStatus status();

  /** A primary's bandwidth control; null on a standby. */
  BandwidthControl bandwidth() {
    return null;
  }

  /** A primary's shipping progress of {@code volume}; null on a standby. */
  LinkSnapshot.VolumeProgress progress(String volume) {
    return null;
  }

  @Override
  public abstract void close();

  static final class Primary extends SiteLink {
    private final Shipper shipper;
    private final BandwidthControl bandwidth;

    /** The configured standby, named in status before its first WELCOME. */
    private final String configuredPeer;

    Primary(Shipper shipper, BandwidthControl bandwidth, String configuredPeer) {
      this.shipper = shipper;
      this.bandwidth = bandwidth;
      this.configuredPeer = configuredPeer;
    }

    @Override
    void start() {
      bandwidth.refresh(); // the configured cap is in force from the first frame
      shipper.start();
    }

    @Override
    BandwidthControl bandwidth() {
      return bandwidth;
    }

    @Override
    LinkStatus status() {
      LinkSnapshot s = shipper.snapshot();
      return new LinkStatus(
          // Before the standby's first WELCOME (e.g. just promoted, the old primary still down) the
          // peer is the configured one: status names it instead of "?".
          s.connected(),
          s.peerSiteId() != null ? s.peerSiteId() : configuredPeer,
          s.address(),
          s.rawBytes(),
          s.wireBytes(),
          s.lastError(),
          s.bandwidthBytesPerSecond(),
          bandwidth.bandwidth().source(),
          s.wireSendRateBytesPerSecond());
    }

    @Override
    LinkSnapshot.VolumeProgress progress(String volume) {
      return shipper.snapshot().volumes().get(volume);
    }

    /** Planned switchover: see {@link Shipper#handover}. */
    CompletableFuture<Void> handover(Map<String, Long> endSeqs) {
      return shipper.handover(endSeqs);
    }

    @Override
    public void close() {
      shipper.close();
    }
  }

  static final class Standby extends SiteLink {
    private final Receiver receiver;
    private final SiteConfig config;
    private final CompletableFuture<Void> peerDialed;
    private final Function<String, String> refusedPeer;

    Standby(
        Receiver receiver,
        SiteConfig config,
        CompletableFuture<Void> peerDialed,
        Function<String, String> refusedPeer) {
      this.receiver = receiver;
      this.config = config;
      this.peerDialed = peerDialed;
      this.refusedPeer = refusedPeer;
    }

    /**
     * Ends primary {@code siteId}'s connection (no other); completes once its stores under way
     * settled. See {@link Receiver#disconnect}.
     */
    CompletableFuture<Void> disconnect(String siteId) {
      return receiver.disconnect(siteId);
    }

    /**
     * Completes (on a Netty event loop) when the configured primary's HELLO offered a volume this
     * site holds: it has dialed this link. The earliest event the receiver exposes; the WELCOME
     * (status {@code connected}) follows on the same event loop. A connection event from the
     * receiver itself would replace this once it offers one.
     */
    CompletableFuture<Void> peerDialed() {
      return peerDialed;
    }

    @Override
    void start() {
      receiver.start();
    }

    @Override
    LinkStatus status() {
      ReceiverSnapshot s = receiver.snapshot();
      // N:1: the link is up while every peer still replicating here is connected (a promoted one
      // is refused for good); each peer's own state is in peer().
      boolean up = true;
      boolean replicating = false;
      for (String id : config.peerSiteIds()) {
        if (refusedPeer.apply(id) == null) {
          replicating = true;
          up &= s.peers().stream().anyMatch(p -> p.siteId().equals(id));
        }
      }
      up &= replicating;
      return new LinkStatus(
          up,
          config.nToOne() ? String.join(",", config.peerSiteIds()) : config.wan().peerSiteId(),
          s.address(),
          s.rawBytesReceived(),
          s.wireBytesReceived(),
          s.lastError());
    }

    /** The connection of primary {@code siteId} now: null while it is not connected. */
    ReceiverSnapshot.Peer peer(String siteId) {
      for (ReceiverSnapshot.Peer p : receiver.snapshot().peers()) {
        if (p.siteId().equals(siteId)) {
          return p;
        }
      }
      return null;
    }

    @Override
    public void close() {
      receiver.close();
    }
  }
}
