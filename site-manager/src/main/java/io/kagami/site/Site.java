package io.kagami.site;

import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.apply.Checkpointer;
import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.replicator.volume.PrimaryVolume;
import io.kagami.replicator.volume.ReplicaVolume;
import io.kagami.site.admin.AdminServer;
import io.kagami.site.admin.LinkStatus;
import io.kagami.site.admin.SiteStatus;
import io.kagami.site.admin.VolumeStatus;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import io.kagami.site.config.VolumeConfig;
import io.kagami.site.link.BandwidthControl;
import io.kagami.site.link.JournalReceiveSink;
import io.kagami.site.link.JournalShipSource;
import io.kagami.site.metrics.SiteMetrics;
import io.kagami.wan.ship.LinkSnapshot;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One Kagami site: wires journal, volumes, NBD exports, the WAN link and the admin surface for the
 * site's role, and owns their lifecycle. {@link #start()} acquires in data-flow order; {@link
 * #close()} releases in reverse, collecting every failure.
 */
public final class Site implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Site.class.getName());
  static final Duration CHECKPOINT_INTERVAL = Duration.ofSeconds(1);

  private final SiteConfig config;
  private final InstantSource clock;
  private final Deque<AutoCloseable> resources = new ArrayDeque<>();
  private final Map<String, Volume> volumes = new LinkedHashMap<>();
  private Journal journal;
  private SiteLink link;
  private AdminServer admin;
  private int nbdPort;
  private boolean closed;

  /** A volume as this site runs it. */
  private sealed interface Volume permits PrimaryRuntime, StandbyRuntime {
    VolumeConfig config();

    BlockDevice device();
  }

  private record PrimaryRuntime(VolumeConfig config, PrimaryVolume device, Checkpointer checkpointer, JournalShipSource source) implements Volume {}

  private record StandbyRuntime(VolumeConfig config, ReplicaVolume device, Applier applier, JournalReceiveSink sink) implements Volume {}

  public Site(SiteConfig config, InstantSource clock) {
    this.config = config;
    this.clock = clock;
  }

  public SiteConfig config() {
    return config;
  }

  public synchronized void start() {
    try {
      SiteIdentity.verifyOrCreate(config.dataDir(), config.siteId());
      journal = Journal.open(JournalConfig.at(config.journalDir()), clock);
      resources.push(journal);
      ExecutorService reads = Executors.newFixedThreadPool(4, Thread.ofPlatform().name("kagami-read-", 0).daemon(true).factory());
      resources.push(reads::shutdownNow);
      for (VolumeConfig vc : config.volumes()) {
        volumes.put(vc.name(), openVolume(vc, reads));
      }
      link = SiteLink.create(config, clock, this::shipSources, this::receiveSinks);
      SiteMetrics metrics = new SiteMetrics(this::status, config.siteId(), config.role().label(), config.wan().peerSiteId(), config.volumes().stream().map(VolumeConfig::name).toList());
      resources.push(metrics);
      List<BlockDevice> devices = new ArrayList<>();
      volumes.values().forEach(v -> devices.add(metrics.metered(v.device(), config.siteId())));
      NbdExports nbd = new NbdExports(config.nbdListen(), devices);
      nbd.start();
      nbdPort = nbd.port();
      resources.push(nbd);
      link.start();
      resources.push(link);
      ScheduledExecutorService housekeeping = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("kagami-housekeeping").daemon(true).factory());
      housekeeping.scheduleWithFixedDelay(this::housekeeping, CHECKPOINT_INTERVAL.toMillis(), CHECKPOINT_INTERVAL.toMillis(), TimeUnit.MILLISECONDS);
      resources.push(
          () -> {
            housekeeping.shutdown();
            housekeeping.awaitTermination(10, TimeUnit.SECONDS);
          });
      admin = new AdminServer(config.adminListen(), this::status, metrics::scrape, link.bandwidth());
      admin.start();
      resources.push(admin);
      LOG.log(Level.INFO, "site {0} ({1}) started: nbd {2}, admin {3}", config.siteId(), config.role().label(), nbdAddress(), adminAddress());
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  private Volume openVolume(VolumeConfig vc, ExecutorService reads) {
    FileVolume file = FileVolume.openOrCreate(config.volumeFile(vc.name()), vc.sizeBytes());
    resources.push(file);
    JournalStream stream = journal.stream(vc.name());
    if (config.role() == Role.PRIMARY) {
      // Crash recovery: the journal holds every change the volume file may not have durably.
      Applier replay = new Applier(vc.name(), stream, file, clock, CHECKPOINT_INTERVAL, false);
      int replayed = replay.catchUp();
      if (replayed > 0) {
        LOG.log(Level.INFO, "volume {0}: replayed {1} journal entries onto the volume file after restart", vc.name(), replayed);
      }
      PrimaryVolume device = new PrimaryVolume(vc.name(), file, stream, config.compress(), reads);
      JournalShipSource source = new JournalShipSource(vc.name(), vc.sizeBytes(), stream);
      return new PrimaryRuntime(vc, device, new Checkpointer(device, source::peerDurableSeq), source);
    }
    Applier applier = new Applier(vc.name(), stream, file, clock, CHECKPOINT_INTERVAL, true);
    applier.start();
    resources.push(applier);
    return new StandbyRuntime(vc, new ReplicaVolume(vc.name(), file, reads), applier, new JournalReceiveSink(vc.name(), vc.sizeBytes(), stream));
  }

  private List<JournalShipSource> shipSources() {
    List<JournalShipSource> out = new ArrayList<>();
    for (Volume v : volumes.values()) {
      if (v instanceof PrimaryRuntime p) {
        out.add(p.source());
      }
    }
    return out;
  }

  private Map<String, JournalReceiveSink> receiveSinks() {
    Map<String, JournalReceiveSink> out = new LinkedHashMap<>();
    for (Volume v : volumes.values()) {
      if (v instanceof StandbyRuntime s) {
        out.put(v.config().name(), s.sink());
      }
    }
    return out;
  }

  private void housekeeping() {
    BandwidthControl bandwidth = link.bandwidth();
    if (bandwidth != null) {
      try {
        bandwidth.refresh(); // schedule windows take effect within a housekeeping interval
      } catch (RuntimeException e) {
        LOG.log(Level.ERROR, "WAN bandwidth refresh failed", e);
      }
    }
    for (Volume v : volumes.values()) {
      try {
        if (v instanceof PrimaryRuntime p) {
          p.source().persist();
          p.checkpointer().doWork();
        }
      } catch (RuntimeException e) {
        LOG.log(Level.ERROR, "volume " + v.config().name() + ": housekeeping failed", e);
      }
    }
  }

  /** The snapshot {@code GET /status} and {@code kagami status} show. */
  public SiteStatus status() {
    long now = clock.millis();
    List<VolumeStatus> vs = new ArrayList<>();
    for (Volume v : volumes.values()) {
      VolumeConfig vc = v.config();
      switch (v) {
        case PrimaryRuntime p -> {
          JournalStream s = p.device().stream();
          long acked = p.source().peerDurableSeq();
          LinkSnapshot.VolumeProgress progress = link == null ? null : link.progress(vc.name());
          String err = s.failure() != null ? s.failure().getMessage() : progress != null ? progress.stalled() : null;
          Long resumed = progress == null || !link.status().connected() ? null : progress.resumedFromSeq();
          long sent = progress == null ? acked : Math.max(acked, progress.lastSentSeq());
          long history = s.bytesAfter(sent);
          double rate = progress == null ? 0 : progress.rawSendRateBytesPerSecond();
          Double eta = history > 0 && rate > 0 ? history / rate : null;
          vs.add(
              new VolumeStatus(
                  vc.name(), "primary", vc.sizeBytes(), s.lastSeq(), acked, null, resumed, s.bytesAfter(acked), lagSeconds(s, acked, now), history, lagSeconds(s, sent, now), eta, err));
        }
        case StandbyRuntime r -> {
          JournalStream s = journal.stream(vc.name());
          long applied = r.applier().appliedSeq();
          vs.add(new VolumeStatus(vc.name(), "standby", vc.sizeBytes(), s.lastSeq(), null, applied, null, s.bytesAfter(applied), lagSeconds(s, applied, now), null, null, null, r.applier().failure()));
        }
      }
    }
    LinkStatus ls = link == null ? new LinkStatus(false, config.wan().peerSiteId(), null, 0, 0, null) : link.status();
    return new SiteStatus(config.siteId(), config.role().label(), nbdAddress(), ls, vs);
  }

  private static double lagSeconds(JournalStream s, long upTo, long now) {
    long oldest = s.oldestMillisAfter(upTo);
    return oldest < 0 ? 0.0 : Math.max(0, now - oldest) / 1000.0;
  }

  /** True once a primary's link is up (a standby: once a primary is connected). */
  public boolean linkConnected() {
    return link != null && link.status().connected();
  }

  public String nbdAddress() {
    return config.nbdListen().host() + ":" + (nbdPort == 0 ? config.nbdListen().port() : nbdPort);
  }

  public String adminAddress() {
    return config.adminListen().host() + ":" + (admin == null ? config.adminListen().port() : admin.port());
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    List<Exception> failures = new ArrayList<>();
    while (!resources.isEmpty()) {
      try {
        resources.pop().close();
      } catch (Exception e) {
        failures.add(e);
      }
    }
    for (Exception e : failures) {
      LOG.log(Level.WARNING, "site " + config.siteId() + ": error while closing", e);
    }
  }


}
