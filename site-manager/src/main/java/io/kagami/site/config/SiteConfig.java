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
 * <dataDir>/admin.token}, created on first start. {@code adminTls}: the admin port speaks HTTPS
 * (always, unless {@code admin.listen} is loopback and {@code admin.tls: false}); it presents
 * {@code adminCertificate}/{@code adminPrivateKey} when given (both or neither), else the site's
 * WAN certificate.
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
    boolean adminTls,
    Path adminCertificate,
    Path adminPrivateKey) {

  public static final int DEFAULT_NBD_PORT = 10809;
  public static final int DEFAULT_WAN_PORT = 7800;
  public static final int DEFAULT_ADMIN_PORT = 9480;

  public SiteConfig {
    volumes = List.copyOf(volumes);
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
