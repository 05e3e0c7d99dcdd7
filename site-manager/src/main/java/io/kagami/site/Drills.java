package io.kagami.site;

import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.history.DrillVolume;
import io.kagami.replicator.history.History;
import io.kagami.replicator.history.PointInTimeView;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.site.admin.VolumeStatus;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.function.BooleanSupplier;

/**
 * A standby site's history and DR drills, per volume: the retained before-images ({@link History}),
 * and at most one drill per volume, a writable copy-on-write clone of the replica at a chosen point
 * exported over NBD as {@code <volume>-drill} while replication goes on.
 *
 * <p>Drills do not survive a restart: the clone is scratch space for a test, and its overlay
 * ({@code <dataDir>/drills/<volume>.overlay}) is deleted, with a log line, when the site starts.
 * Thread-safe (one lock).
 */
final class Drills implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Drills.class.getName());
  static final String SUFFIX = "-drill";

  private record Tracked(
      History history, Applier applier, FileVolume replica, BooleanSupplier consistent) {}

  /** A drill: its clone, when it started, and the point it shows (see {@link #pointOf}). */
  private record Running(DrillVolume volume, Instant startedAt, long point) {}

  private final Path directory;
  private final InstantSource clock;
  private final Executor io;
  private final Map<String, Tracked> volumes = new LinkedHashMap<>();
  private final Map<String, Running> running = new LinkedHashMap<>();
  private NbdExports nbd;

  Drills(Path dataDir, InstantSource clock, Executor io) {
    this.directory = dataDir.resolve("drills");
    this.clock = clock;
    this.io = io;
    discardLeftovers();
  }

  private void discardLeftovers() {
    if (!Files.isDirectory(directory)) {
      return;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(directory, "*.overlay")) {
      for (Path p : ds) {
        LOG.log(
            Level.WARNING,
            "discarding the DR drill that ran before the restart ({0}): drills do not survive a restart; start a new one",
            p.getFileName());
        Files.delete(p);
      }
    } catch (IOException e) {
      LOG.log(
          Level.WARNING,
          "cannot discard old drill overlays in {0}: {1}",
          directory,
          e.getMessage());
    }
  }

  synchronized void track(
      String volume,
      History history,
      Applier applier,
      FileVolume replica,
      BooleanSupplier consistent) {
    volumes.put(volume, new Tracked(history, applier, replica, consistent));
  }

  synchronized void attach(NbdExports exports) {
    this.nbd = exports;
  }

  synchronized History history(String volume) {
    Tracked t = volumes.get(volume);
    return t == null ? null : t.history();
  }

  /**
   * What {@code drill start} reports: the clone's export name, the seq it shows (a write: see
   * {@link #pointOf}) and the replica's applied seq then.
   */
  record Started(String volume, String export, long seq, long appliedSeq) {}

  /** Where a drill or recovery pins its view: {@code seq}, the write at {@code at}, or now. */
  private static long pinAt(Tracked t, Long seq, Instant at, long applied) {
    return seq != null ? seq : at != null ? t.history().seqAt(at, applied) : applied;
  }

  /**
   * The point a view pinned at {@code pinned} shows, with the applier paused at {@code applied}:
   * the replica's newest write when pinned at its current state, which verification points after
   * that write do not change (they are journal entries, not writes: an idle volume's point and its
   * time stay those of its last write); else {@code pinned}, a seq asked for or a write {@code
   * --at} found.
   */
  private static long pointOf(Tracked t, long pinned, long applied) {
    return pinned == applied ? t.applier().appliedWriteSeq() : pinned;
  }

  /** The standby volume {@code volume}, or refused naming the ones there are. Holding this. */
  private Tracked tracked(String volume) {
    Tracked t = volumes.get(volume);
    if (t == null) {
      throw new Promotion.RefusedException(
          "no standby volume "
              + volume
              + " here (volumes: "
              + String.join(", ", volumes.keySet())
              + ")");
    }
    return t;
  }

  /** Starts a drill of {@code volume} at {@code seq}, at {@code at}, or (both null) now. */
  synchronized Started start(String volume, Long seq, Instant at) {
    Tracked t = tracked(volume);
    if (running.containsKey(volume)) {
      throw new Promotion.RefusedException(
          "a drill of volume "
              + volume
              + " is running already (export "
              + volume
              + SUFFIX
              + "); stop it first: kagami drill stop --volume "
              + volume);
    }
    if (!t.consistent().getAsBoolean()) {
      throw new Promotion.RefusedException(
          "volume "
              + volume
              + " is inconsistent (a resync is under way): there is no consistent point to drill on until it completes");
    }
    if (t.applier().failure() != null) {
      throw new Promotion.RefusedException(
          "volume "
              + volume
              + ": the applier stopped ("
              + t.applier().failure()
              + "); no drill on a replica that does not move");
    }
    record Pinned(PointInTimeView view, long point, long applied) {}
    Pinned pinned;
    try {
      pinned =
          t.applier()
              .paused(
                  () -> {
                    long applied = t.applier().appliedSeq();
                    long n = pinAt(t, seq, at, applied);
                    return new Pinned(t.history().pin(n, applied), pointOf(t, n, applied), applied);
                  });
    } catch (History.OutsideWindowException e) {
      throw new Promotion.RefusedException(e.getMessage());
    }
    PointInTimeView view = pinned.view();
    DrillVolume clone;
    try {
      Files.createDirectories(directory);
      clone =
          new DrillVolume(
              volume + SUFFIX, view, t.replica(), directory.resolve(volume + ".overlay"), io);
    } catch (IOException | RuntimeException e) {
      t.history().unpin(view);
      throw new IllegalStateException(
          "volume "
              + volume
              + ": cannot create the drill's overlay in "
              + directory
              + ": "
              + e.getMessage(),
          e);
    }
    nbd.add(clone);
    running.put(volume, new Running(clone, clock.instant(), pinned.point()));
    LOG.log(
        Level.WARNING,
        "volume {0}: DR drill started at seq {1}, exported as {2} (writable clone; the replica and replication are untouched)",
        volume,
        Long.toString(pinned.point()),
        clone.name());
    return new Started(volume, clone.name(), pinned.point(), pinned.applied());
  }

  /**
   * The seq a recovery of {@code volume} at {@code seq}, at {@code at} or (both null) now would
   * show; refused when outside the retained history.
   */
  synchronized long seqFor(String volume, Long seq, Instant at) {
    Tracked t = tracked(volume);
    try {
      return t.applier()
          .paused(
              () -> {
                long applied = t.applier().appliedSeq();
                return pointOf(t, pinAt(t, seq, at, applied), applied);
              });
    } catch (History.OutsideWindowException e) {
      throw new Promotion.RefusedException(e.getMessage());
    }
  }

  /** Stops the drill of {@code volume}: its export and connections go, its writes are discarded. */
  synchronized Stopped stop(String volume) {
    Running r = running.remove(volume);
    if (r == null) {
      throw new Promotion.RefusedException("no drill of volume " + volume + " is running");
    }
    int closed = nbd == null ? 0 : nbd.remove(r.volume().name());
    long written = r.volume().writtenBytes();
    try {
      r.volume().close();
    } catch (IOException e) {
      LOG.log(
          Level.WARNING,
          "volume {0}: deleting the drill overlay failed: {1}",
          volume,
          e.getMessage());
    }
    volumes.get(volume).history().unpin(r.volume().view());
    LOG.log(
        Level.WARNING,
        "volume {0}: DR drill stopped; {1} bytes written into the clone discarded, {2} NBD connection(s) closed",
        volume,
        Long.toString(written),
        closed);
    return new Stopped(volume, r.volume().name(), written, closed);
  }

  record Stopped(String volume, String export, long discardedBytes, int closedConnections) {}

  /** Stops every drill (before a promotion: the replica stops being a frozen-able replica). */
  synchronized void stopAll(String why) {
    for (String v : java.util.List.copyOf(running.keySet())) {
      LOG.log(Level.WARNING, "volume {0}: stopping its DR drill: {1}", v, why);
      stop(v);
    }
  }

  /** Stops the drills of {@code volumes} that run (N:1: one primary's volumes are promoted). */
  synchronized void stop(java.util.Collection<String> volumes, String why) {
    for (String v : volumes) {
      if (running.containsKey(v)) {
        LOG.log(Level.WARNING, "volume {0}: stopping its DR drill: {1}", v, why);
        stop(v);
      }
    }
  }

  /** The drill of {@code volume} for the status, or null. */
  synchronized VolumeStatus.Drill drill(String volume, String nbdHost, int nbdPort) {
    Running r = running.get(volume);
    if (r == null) {
      return null;
    }
    return new VolumeStatus.Drill(
        r.volume().name(),
        "nbd://" + nbdHost + ":" + nbdPort + "/" + r.volume().name(),
        r.point(),
        r.startedAt().toString(),
        r.volume().writtenBytes(),
        r.volume().view().voided());
  }

  /** The earliest recoverable point of {@code volume} for the status, or null. */
  synchronized VolumeStatus.Point recoverableFrom(String volume) {
    Tracked t = volumes.get(volume);
    if (t == null) {
      return null;
    }
    History.Point p = t.history().recoverableFrom(t.applier().appliedSeq());
    return p == null
        ? null
        : new VolumeStatus.Point(p.seq(), p.time().toString(), t.history().bytes());
  }

  /** Trims each volume's history to its window (housekeeping). */
  void trim() {
    java.util.List<Tracked> all;
    synchronized (this) {
      all = java.util.List.copyOf(volumes.values());
    }
    for (Tracked t : all) {
      t.history().trim();
    }
  }

  synchronized long historyBytes(String volume) {
    Tracked t = volumes.get(volume);
    return t == null ? 0 : t.history().bytes();
  }

  /** The site became a primary: drills end and the history is dropped (it described a replica). */
  synchronized void promoted() {
    stopAll("the site is promoted");
    for (Tracked t : volumes.values()) {
      t.history().clear();
    }
    volumes.clear();
  }

  /**
   * N:1: one primary's {@code volumes} were promoted: their drills end and their history is
   * dropped; every other volume's drill and history stay.
   */
  synchronized void promoted(java.util.Collection<String> volumes, String why) {
    stop(volumes, why);
    for (String v : volumes) {
      Tracked t = this.volumes.remove(v);
      if (t != null) {
        t.history().clear();
      }
    }
  }

  @Override
  public synchronized void close() {
    for (Running r : running.values()) {
      try {
        r.volume().close();
      } catch (IOException e) {
        LOG.log(Level.WARNING, "deleting a drill overlay failed: {0}", e.getMessage());
      }
    }
    running.clear();
  }
}
