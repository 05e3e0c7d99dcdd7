package io.kagami.site.config;

import java.nio.file.Path;
import java.util.List;

/**
 * A site's whole configuration, immutable and validated by {@link ConfigLoader}: nothing downstream
 * re-checks or defaults a value. {@code metrics} false ({@code admin.metrics: false}) turns metrics
 * collection off: no registry, no metered NBD devices, {@code GET /metrics} answers 404 (to measure
 * what collecting them costs). {@code failover} is null when the configuration has no {@code
 * failover:} section (no heartbeats, no witness, no fencing: failover is manual). {@code
 * adminToken} is the operator's token file ({@code admin.tokenFile}); null: {@code
 * <dataDir>/admin.token}, created on first start. {@code recoveryFile} holds the recovery profiles
 * ({@code recovery:}, default {@code recovery.yaml} beside the site's YAML), read afresh by each
 * {@code kagami recover plan}, never at start: a mistake there never stops replication. {@code
 * journal} bounds the journal's disk space (reserve kept free, WAL size). {@code memory}: the
 * site's memory budget and its shares ({@code memory.budget}).
 *
 * <p>{@code peers}: the sites this one replicates with, each with its volumes (see {@link
 * PeerConfig}). A 1:1 configuration has one, from {@code wan.peerSiteId}, {@code
 * wan.peerCertificate} and {@code volumes}; an N:1 standby's {@code peers:} list has one per
 * primary site, its volumes namespaced ({@code tokyo.vol0}), and then {@code wan.peerSiteId} and
 * {@code wan.peerCertificate} are null. {@code volumes} is every peer's volumes, in order, under
 * their local names.
 *
 * <p>{@code adminTls}: the admin port speaks HTTPS (always, unless {@code admin.listen} is loopback
 * and {@code admin.tls: false}); it presents {@code adminCertificate}/{@code adminPrivateKey} when
 * given (both or neither), else the site's WAN certificate.
 *
 * <p>{@code verify}: continuous verification of the standby's replica ({@code verify.rate}).
 */
public record SiteConfig(
    String siteId,
    Role role,
    Path dataDir,
    HostPort nbdListen,
    HostPort adminListen,
    WanSettings wan,
    boolean compress,
    boolean metrics,
    List<VolumeConfig> volumes,
    FailoverSettings failover,
    Path adminToken,
    JournalSettings journal,
    Path recoveryFile,
    List<PeerConfig> peers,
    boolean adminTls,
    Path adminCertificate,
    Path adminPrivateKey,
    MemoryBudget memory,
    VerifySettings verify) {

  public static final int DEFAULT_NBD_PORT = 10809;
  public static final int DEFAULT_WAN_PORT = 7800;
  public static final int DEFAULT_ADMIN_PORT = 9480;

  public SiteConfig {
    volumes = List.copyOf(volumes);
    peers = List.copyOf(peers);
  }

  /** True for a standby configured with a {@code peers:} list (N:1): volumes are namespaced. */
  public boolean nToOne() {
    return !peers.isEmpty() && peers.getFirst().namespaced();
  }

  /** The peer that {@code volume} (a local name) is replicated with; null when none holds it. */
  public PeerConfig peerOf(String volume) {
    for (PeerConfig p : peers) {
      if (p.holds(volume)) {
        return p;
      }
    }
    return null;
  }

  /** The site id of the peer {@code volume} is replicated with ("?" when none holds it). */
  public String peerSiteIdOf(String volume) {
    PeerConfig p = peerOf(volume);
    return p == null ? "?" : p.siteId();
  }

  /** Every peer's site id, in configuration order. */
  public List<String> peerSiteIds() {
    return peers.stream().map(PeerConfig::siteId).toList();
  }

  /** The file holding the token that requests changing the site must present. */
  public Path adminTokenFile() {
    return adminToken != null ? adminToken : dataDir.resolve("admin.token");
  }

  public Path journalDir() {
    return dataDir.resolve("journal");
  }

  public Path volumeFile(String volume) {
    return dataDir.resolve("volumes").resolve(volume + ".img");
  }

  /** The changed-region map of a primary volume (used once its history overflowed). */
  public Path bitmapFile(String volume) {
    return dataDir.resolve("volumes").resolve(volume + ".bitmap");
  }

  public Path tlsDir() {
    return dataDir.resolve("tls");
  }
}
