package io.kagami.site;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.clock.NanoClock;
import io.kagami.replicator.history.History;
import io.kagami.site.config.Durations;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import io.kagami.site.recovery.DrHost;
import io.kagami.site.recovery.RecoveryPlan;
import io.kagami.site.recovery.RecoveryPlanner;
import io.kagami.site.recovery.RecoveryProfilesLoader;
import io.kagami.site.recovery.ReplicaVolume;
import io.kagami.site.recovery.run.LibvirtLauncher;
import io.kagami.site.recovery.run.QemuLauncher;
import io.kagami.site.recovery.run.RecoveryDisks;
import io.kagami.site.recovery.run.RecoveryOrchestrator;
import io.kagami.site.recovery.run.RecoveryRefused;
import io.kagami.site.recovery.run.RecoveryRequest;
import io.kagami.site.recovery.run.VolumesPromoter;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * The site's side of {@code kagami recover} ({@code POST /recover}, {@code POST /recover/stop},
 * {@code GET /recover/status}): reads recovery.yaml and plans afresh on every request, and gives
 * the {@link RecoveryOrchestrator} the site's disks: drill clones of the replicas ({@link Drills})
 * and the promotion ({@link StandbyPromoter}: the whole site on a 1:1 standby; on an N:1 standby
 * each peer owning the recovered servers' volumes, once per run, as {@link Site#promotePeer}).
 * Admin HTTP threads call in; the disk work runs on a virtual thread per request, its result a
 * future.
 */
final class SiteRecovery implements RecoveryDisks, AutoCloseable {
  private final SiteConfig config;
  private final InstantSource clock;
  private final NanoClock nanos;
  private final Peer peer;
  private final Drills drills;
  private final VolumesPromoter promoter;
  private final IntSupplier nbdPort;
  private final Supplier<Map<String, String>> volumeStates;
  private final RecoveryOrchestrator orchestrator;

  SiteRecovery(
      SiteConfig config,
      InstantSource clock,
      NanoClock nanos,
      Peer peer,
      Drills drills,
      StandbyPromoter standbyPromoter,
      IntSupplier nbdPort,
      Supplier<Map<String, String>> volumeStates) {
    this.config = config;
    this.clock = clock;
    this.nanos = nanos;
    this.peer = peer;
    this.drills = drills;
    this.nbdPort = nbdPort;
    this.volumeStates = volumeStates;
    this.promoter =
        config.nToOne()
            ? (volumes, seq, at) -> promotePeers(standbyPromoter, volumes, seq, at)
            : (volumes, seq, at) -> promoteSite(standbyPromoter, volumes, seq, at);
    DrHost host = DrHost.probe();
    this.orchestrator =
        new RecoveryOrchestrator(
            config.dataDir(),
            this,
            new QemuLauncher(host),
            new LibvirtLauncher(host),
            clock,
            nanos);
  }

  /** Starts the orchestrator; it removes what a recovery killed with this site left behind. */
  void start() {
    orchestrator.start();
  }

  RecoveryOrchestrator orchestrator() {
    return orchestrator;
  }

  // ---- the admin surface -----------------------------------------------------------------------

  /**
   * How long one request waits for a report: below the admin server's response deadline ({@link
   * io.kagami.site.admin.HttpLimits#RESPONSE_DEADLINE}); a client waits longer by asking again.
   */
  static final Duration WAIT = Duration.ofSeconds(40);

  /**
   * {@code POST /recover}: {@code {"servers": ["db"]} | {"all": true}}, optionally {@code "seq"},
   * {@code "at"}, {@code "drill"}, {@code "libvirt"}, {@code "ttl": "4h"}, {@code "wait": false}.
   * Answers the report once every server is healthy, failed or blocked, if that happens within
   * {@link #WAIT}; else (or with {@code "wait": false}) {@code {"id": ..., "done": false}}, and
   * {@code POST /recover/wait} with {@code {"id": ...}} waits again.
   */
  Object recover(JsonNode body) throws Exception {
    List<String> servers = new ArrayList<>();
    body.path("servers").forEach(n -> servers.add(n.asText()));
    if (servers.isEmpty() == !body.path("all").asBoolean(false)) {
      throw new Promotion.RefusedException(
          "name the servers ({\"servers\": [\"db\"]}, kagami recover --server db) or all of them"
              + " ({\"all\": true}, kagami recover --all), not both");
    }
    Long seq = body.hasNonNull("seq") ? body.get("seq").asLong() : null;
    Instant at = body.hasNonNull("at") ? PointInTime.parse(body.get("at").asText(), clock) : null;
    boolean drill = body.path("drill").asBoolean(false);
    Duration ttl = body.hasNonNull("ttl") ? Durations.parse(body.get("ttl").asText()) : null;
    if (drill && peer.role() == Role.PRIMARY) {
      throw new Promotion.RefusedException(
          "site "
              + config.siteId()
              + " is a primary: a drill runs on a standby, on clones of its replicas");
    }
    RecoveryRequest request =
        new RecoveryRequest(servers, seq, at, drill, body.path("libvirt").asBoolean(false), ttl);
    RecoveryProfilesLoader.Result loaded = RecoveryProfilesLoader.load(config.recoveryFile());
    RecoveryPlan plan = plan(loaded);
    RecoveryOrchestrator.Started started;
    try {
      started = orchestrator.run(plan, loaded.profiles(), request);
    } catch (RecoveryRefused e) {
      throw new Promotion.RefusedException(e.getMessage());
    }
    return waitFor(
        started.id(), started.report(), body.path("wait").asBoolean(true) ? WAIT : Duration.ZERO);
  }

  /**
   * {@code POST /recover/wait} with {@code {"id": RUN}}: its report, waiting up to {@link #WAIT}.
   */
  Object await(JsonNode body) throws InterruptedException {
    String id = body.path("id").asText("");
    CompletableFuture<?> report = orchestrator.report(id);
    if (report == null) {
      throw new Promotion.RefusedException("no recovery run " + id + " here");
    }
    return waitFor(id, report, WAIT);
  }

  private static Object waitFor(String id, CompletableFuture<?> report, Duration wait)
      throws InterruptedException {
    try {
      return report.get(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IllegalStateException(String.valueOf(e.getCause()), e.getCause());
    } catch (TimeoutException e) {
      return Map.of("id", id, "done", false);
    }
  }

  /** {@code POST /recover/stop}. */
  Object stop() {
    try {
      return orchestrator.stop("kagami recover stop");
    } catch (RecoveryRefused e) {
      throw new Promotion.RefusedException(e.getMessage());
    }
  }

  /** {@code GET /recover/status}. */
  Object status() {
    return orchestrator.status();
  }

  /** The plan of {@code loaded} against this machine and the volumes' states now. */
  RecoveryPlan plan(RecoveryProfilesLoader.Result loaded) {
    Map<String, String> states = volumeStates.get();
    List<ReplicaVolume> volumes =
        ReplicaVolume.exports(
            config.volumes(),
            v -> states.getOrDefault(v, "unknown"),
            v -> config.nToOne() ? config.peerSiteIdOf(v) : null);
    // Each virtio server's boot disk is read (never written) for its virtio_blk driver.
    return RecoveryPlanner.plan(
        loaded,
        DrHost.probe(),
        volumes,
        v ->
            config.volumes().stream().anyMatch(c -> c.name().equals(v) && !c.group())
                ? config.volumeFile(v)
                : null);
  }

  // ---- RecoveryDisks
  // -----------------------------------------------------------------------------

  @Override
  public CompletableFuture<Prepared> drill(List<String> volumes, Long seq, Instant at) {
    return onVirtualThread(
        () -> {
          long t0 = nanos.nanoTime();
          List<Point> points = new ArrayList<>();
          Long s = seq;
          Instant a = at;
          for (String v : volumes) {
            Drills.Started started;
            try {
              started = drills.start(v, s, a);
            } catch (RuntimeException e) {
              for (Point p : points) {
                drills.stop(p.volume());
              }
              throw e;
            }
            History h = drills.history(v);
            Instant time = h == null ? null : h.timeOf(started.seq());
            points.add(new Point(v, started.export(), started.seq(), time));
            if (s != null) {
              // the other volumes at the time of this write: one point for the server
              s = null;
              a = time;
            }
          }
          long t1 = nanos.nanoTime();
          exportAnswers();
          return new Prepared(points, t1 - t0, nanos.nanoTime() - t1);
        });
  }

  @Override
  public boolean stopDrill(String volume) {
    try {
      drills.stop(volume);
      return true;
    } catch (Promotion.RefusedException e) {
      return false; // none running: stopped already, or discarded at the site's restart
    }
  }

  @Override
  public VolumesPromoter promoter() {
    return promoter;
  }

  @Override
  public String nbdHost() {
    return SiteStatusView.uriHost(config.nbdListen());
  }

  @Override
  public int nbdPort() {
    return nbdPort.getAsInt();
  }

  /**
   * A 1:1 standby's promotion for a recovery: the whole site, once, at the point (rolled back to
   * {@code at}, or to the time of {@code seq} on the first volume). The points are read before the
   * promotion (it drops the history that dates them). An N:1 standby promotes per peer: {@link
   * #promotePeers}.
   */
  private CompletableFuture<Prepared> promoteSite(
      StandbyPromoter standbyPromoter, List<String> volumes, Long seq, Instant at) {
    return onVirtualThread(
        () -> {
          long t0 = nanos.nanoTime();
          List<Point> points = new ArrayList<>();
          if (peer.role() == Role.PRIMARY) {
            for (String v : volumes) {
              points.add(new Point(v, v, -1, null)); // promoted before: as it stands
            }
          } else {
            Instant point = at;
            for (String v : volumes) {
              History h = drills.history(v);
              long n = drills.seqFor(v, point == null ? seq : null, point);
              Instant time = h == null ? null : h.timeOf(n);
              if (seq != null && point == null) {
                point = time; // every volume at the time of the first one's write
              }
              points.add(new Point(v, v, n, time));
            }
            if (point != null) {
              standbyPromoter.promoteAt(false, null, null, point);
            } else {
              standbyPromoter.promote(false);
            }
          }
          long t1 = nanos.nanoTime();
          exportAnswers();
          return new Prepared(points, t1 - t0, nanos.nanoTime() - t1);
        });
  }

  /**
   * An N:1 standby's promotion for a recovery: each peer owning {@code volumes} ({@link
   * PeerGroups}), once, in the order of their first volume, as {@link Site#promotePeer} does, at
   * the run's point: {@code seq} of the first volume for its peer and, for the other peers, the
   * time of that write; {@code at} for all; else what each holds. A peer promoted before (an
   * earlier run) is taken as it stands. The points are read before the promotions (they drop the
   * history that dates them). The other peers keep replicating. A refusal of a later peer leaves
   * the earlier ones promoted; the report names the refusal.
   */
  private CompletableFuture<Prepared> promotePeers(
      StandbyPromoter standbyPromoter, List<String> volumes, Long seq, Instant at) {
    return onVirtualThread(
        () -> {
          Map<String, List<String>> byPeer =
              PeerGroups.of(
                  config.siteId(),
                  volumes,
                  v -> config.peerOf(v) == null ? null : config.peerOf(v).siteId());
          long t0 = nanos.nanoTime();
          List<Point> points = new ArrayList<>();
          Instant point = at;
          String seqVolume = null;
          for (String v : volumes) {
            boolean before = peer.promotedPeers().of(config.peerSiteIdOf(v)) != null;
            if (before) {
              points.add(new Point(v, v, -1, null)); // promoted before: as it stands
              continue;
            }
            History h = drills.history(v);
            long n = drills.seqFor(v, point == null ? seq : null, point);
            Instant time = h == null ? null : h.timeOf(n);
            if (seq != null && point == null) {
              seqVolume = v;
              point = time; // the other peers at the time of this write
            }
            points.add(new Point(v, v, n, time));
          }
          for (Map.Entry<String, List<String>> e : byPeer.entrySet()) {
            String p = e.getKey();
            if (peer.promotedPeers().of(p) != null) {
              continue;
            }
            Optional<RecoveryPoint> rp;
            if (seq == null && at == null) {
              rp = Optional.empty();
            } else if (seqVolume != null && e.getValue().contains(seqVolume)) {
              rp = Optional.of(RecoveryPoint.seq(seqVolume, seq));
            } else if (point != null) {
              rp = Optional.of(RecoveryPoint.at(point));
            } else {
              throw new Promotion.RefusedException(
                  "the time of seq "
                      + seq
                      + " is not known here, so peer "
                      + p
                      + " cannot be promoted to the same point: recover --at TIME instead");
            }
            standbyPromoter.promotePeer(p, false, rp.orElse(null)); // what Site.promotePeer runs
          }
          long t1 = nanos.nanoTime();
          exportAnswers();
          return new Prepared(points, t1 - t0, nanos.nanoTime() - t1);
        });
  }

  /** The NBD listener answers (what the VMs connect to); fails after 10 s. */
  private void exportAnswers() throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(nbdHost(), nbdPort()), 10_000);
    }
  }

  private interface Work<T> {
    T run() throws Exception;
  }

  private static <T> CompletableFuture<T> onVirtualThread(Work<T> work) {
    CompletableFuture<T> f = new CompletableFuture<>();
    Thread.ofVirtual()
        .name("kagami-recover-disks")
        .start(
            () -> {
              try {
                f.complete(work.run());
              } catch (Exception | Error e) {
                f.completeExceptionally(e);
              }
            });
    return f;
  }

  @Override
  public void close() {
    orchestrator.close();
  }
}
