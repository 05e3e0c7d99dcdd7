package io.kagami.site.cli;

import io.kagami.clock.SystemTime;
import io.kagami.site.Site;
import io.kagami.site.SiteLink;
import io.kagami.site.config.Bandwidth;
import io.kagami.site.config.ConfigLoader;
import io.kagami.site.config.DataSize;
import io.kagami.site.config.HostPort;
import io.kagami.site.config.SiteConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami demo}: a primary site ({@code tokyo}) and a standby site ({@code hiroshima}) on
 * loopback in one process, configured exactly as two separately run sites would be: each has its
 * own data directory, generated key and certificate pinned by the other, and a YAML file written
 * into the demo directory that {@code kagami run --config} accepts as is.
 */
@Command(name = "demo", description = "Run a primary and a standby site on loopback until Ctrl-C.")
final class DemoCommand implements Callable<Integer> {
  static final String PRIMARY_ID = "tokyo";
  static final String STANDBY_ID = "hiroshima";

  /** Sites this JVM runs: the launcher sizes the heap for both (JvmOptions). */
  static final int SITES = 2;

  @Option(
      names = "--volume-size",
      defaultValue = "1GiB",
      description = "size of volume vol0 (default ${DEFAULT-VALUE})")
  String volumeSize;

  @Option(
      names = "--primary-nbd",
      defaultValue = "127.0.0.1:10809",
      description = "primary's NBD export (default ${DEFAULT-VALUE})")
  String primaryNbd;

  @Option(
      names = "--standby-nbd",
      defaultValue = "127.0.0.1:10810",
      description = "standby's read-only NBD export of the replica (default ${DEFAULT-VALUE})")
  String standbyNbd;

  @Option(
      names = "--primary-admin",
      defaultValue = "127.0.0.1:9480",
      description = "primary's admin HTTP (default ${DEFAULT-VALUE})")
  String primaryAdmin;

  @Option(
      names = "--standby-admin",
      defaultValue = "127.0.0.1:9481",
      description = "standby's admin HTTP (default ${DEFAULT-VALUE})")
  String standbyAdmin;

  @Option(
      names = "--wan",
      defaultValue = "127.0.0.1:7800",
      description = "standby's WAN listen address (default ${DEFAULT-VALUE})")
  String wan;

  @Option(
      names = "--primary-wan",
      defaultValue = "127.0.0.1:7801",
      description =
          "where the primary listens for WAN links once it is the standby, after a switchover or failback (default ${DEFAULT-VALUE})")
  String primaryWan;

  @Option(
      names = "--data-dir",
      description =
          "where both sites keep their state (default: a new directory under the system temp dir)")
  Path dataDir;

  @Option(
      names = "--standby-data-dir",
      description =
          "the standby's own data directory (default: inside --data-dir); e.g. another disk, as a second machine would have")
  Path standbyDataDir;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  @Option(
      names = "--mode",
      defaultValue = "async",
      description = "replication mode of vol0: async or sync (default ${DEFAULT-VALUE})")
  String mode;

  @Option(
      names = "--no-metrics",
      description =
          "collect no metrics on either site (admin.metrics: false), e.g. to measure what they cost")
  boolean noMetrics;

  @Option(
      names = "--wan-bandwidth",
      defaultValue = "unlimited",
      description =
          "cap on the WAN link's wire bytes per second, e.g. 1500KB (KB = 1000 bytes; default ${DEFAULT-VALUE}); `kagami link set` changes it at run time")
  String wanBandwidth;

  @Option(
      names = "--ready-timeout",
      defaultValue = "60",
      hidden = true,
      description = "seconds to wait for the sites to connect")
  int readyTimeoutSeconds;

  @Override
  public Integer call() throws Exception {
    long size = DataSize.parse(volumeSize).bytes();
    if (!mode.equals("async") && !mode.equals("sync")) {
      throw new picocli.CommandLine.ParameterException(
          spec.commandLine(), "--mode must be async or sync, got " + mode);
    }
    long bandwidth = Bandwidth.parse(wanBandwidth);
    HostPort.parse(primaryNbd);
    HostPort.parse(standbyNbd);
    HostPort.parse(primaryAdmin);
    HostPort.parse(standbyAdmin);
    HostPort.parse(wan);
    HostPort.parse(primaryWan);
    boolean metrics = !noMetrics;
    Path dir =
        dataDir != null ? dataDir.toAbsolutePath() : Files.createTempDirectory("kagami-demo-");
    Files.createDirectories(dir);
    Path primaryCert =
        SiteLink.ensureCredentials(dir.resolve(PRIMARY_ID).resolve("tls"), PRIMARY_ID);
    Path standbyDir =
        standbyDataDir != null ? standbyDataDir.toAbsolutePath() : dir.resolve(STANDBY_ID);
    Path standbyCert = SiteLink.ensureCredentials(standbyDir.resolve("tls"), STANDBY_ID);
    Path primaryYaml = dir.resolve(PRIMARY_ID + ".yaml");
    Path standbyYaml = dir.resolve(STANDBY_ID + ".yaml");
    writeSiteYaml(
        primaryYaml,
        true,
        PRIMARY_ID,
        PRIMARY_ID,
        primaryNbd,
        primaryAdmin,
        metrics,
        wan,
        primaryWan,
        STANDBY_ID,
        dir.relativize(standbyCert),
        "\n  bandwidth: " + (bandwidth == 0 ? "unlimited" : Long.toString(bandwidth)),
        size);
    writeSiteYaml(
        standbyYaml,
        false,
        STANDBY_ID,
        standbyDataDir != null ? standbyDir : STANDBY_ID,
        standbyNbd,
        standbyAdmin,
        metrics,
        wan,
        primaryWan,
        PRIMARY_ID,
        dir.relativize(primaryCert),
        "",
        size);
    SiteConfig standbyCfg = ConfigLoader.load(standbyYaml);
    SiteConfig primaryCfg = ConfigLoader.load(primaryYaml);

    String heap = primaryCfg.memory().heapWarning(Runtime.getRuntime().maxMemory(), SITES);
    if (heap != null) {
      System.err.println("kagami demo: warning: " + heap);
    }
    Foreground fg = new Foreground();
    Site standby = new Site(standbyCfg, SystemTime.WALL);
    Site primary = new Site(primaryCfg, SystemTime.WALL);
    // Stop the primary first so nothing is written that the standby cannot receive.
    fg.onStop(primary::close);
    fg.onStop(standby::close);
    standby.start();
    primary.start();
    System.out.println("kagami demo: data directory " + dir);
    System.out.printf(
        "  primary %-9s  nbd://%s/vol0  (read-write)   admin http://%s/status%n",
        PRIMARY_ID, primary.nbdAddress(), primary.adminAddress());
    System.out.printf(
        "  standby %-9s  nbd://%s/vol0  (read-only)    admin http://%s/status%n",
        STANDBY_ID, standby.nbdAddress(), standby.adminAddress());
    System.out.printf(
        "  WAN link %s -> %s (mutual TLS 1.3, bandwidth %s), volume vol0 %s, %s mode%n",
        PRIMARY_ID, wan, Bandwidth.format(bandwidth), DataSize.parse(volumeSize), mode);
    if (metrics) {
      System.out.printf("  metrics  %-9s  http://%s/metrics%n", PRIMARY_ID, primary.adminAddress());
      System.out.printf("  metrics  %-9s  http://%s/metrics%n", STANDBY_ID, standby.adminAddress());
    } else {
      System.out.println("  metrics  off (--no-metrics)");
    }
    System.out.printf(
        "  admin tokens (promote, switchover, drills...; this user's kagami CLI on this machine finds them): %s, %s%n",
        primaryCfg.adminTokenFile(), standbyCfg.adminTokenFile());
    System.out.flush();
    awaitLink(primary, Duration.ofSeconds(readyTimeoutSeconds));
    System.out.println("kagami demo: ready (both sites connected; Ctrl-C stops)");
    System.out.flush();
    fg.awaitStop();
    return 0;
  }

  /**
   * Writes the configuration of one of the two sites, each listening on its own WAN address and
   * dialing the other's: {@code standbyListen} is where the primary dials, {@code primaryListen}
   * where the primary listens once it is the standby; {@code wanExtra} holds further {@code wan}
   * keys, each starting on a new line.
   */
  private void writeSiteYaml(
      Path yaml,
      boolean primary,
      String id,
      Object siteDataDir,
      String nbd,
      String admin,
      boolean metrics,
      String standbyListen,
      String primaryListen,
      String peerId,
      Path peerCert,
      String wanExtra,
      long size)
      throws IOException {
    Files.writeString(
        yaml,
        """
        # %s site of `kagami demo`; runs alone with: kagami run --config %s
        site: {id: %s, role: %s}
        dataDir: %s
        nbd: {listen: "%s"}
        admin: {listen: "%s", metrics: %s}
        wan:
          peer: "%s"
          listen: "%s"
          peerSiteId: %s
          peerCertificate: %s%s
        volumes:
          - {name: vol0, size: %d, mode: %s}
        """
            .formatted(
                primary ? "Primary" : "Standby",
                yaml.getFileName(),
                id,
                primary ? "primary" : "standby",
                siteDataDir,
                nbd,
                admin,
                metrics,
                primary ? standbyListen : primaryListen,
                primary ? primaryListen : standbyListen,
                peerId,
                peerCert,
                wanExtra,
                size,
                mode));
  }

  private static void awaitLink(Site primary, Duration timeout) throws Exception {
    CompletableFuture<Void> up = new CompletableFuture<>();
    ScheduledExecutorService poll =
        Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("kagami-demo-wait").daemon(true).factory());
    try {
      poll.scheduleWithFixedDelay(
          () -> {
            if (primary.linkConnected()) {
              up.complete(null);
            }
          },
          0,
          50,
          TimeUnit.MILLISECONDS);
      up.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new IOException(
          "the sites did not connect within "
              + timeout.toSeconds()
              + " s: "
              + primary.status().link().lastError());
    } finally {
      poll.shutdownNow();
    }
  }
}
