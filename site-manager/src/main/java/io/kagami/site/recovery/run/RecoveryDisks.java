package io.kagami.site.recovery.run;

import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The site's side of a recovery run: the disks a server boots from. A drill clones each volume at
 * one point (Kagami drills, exported over NBD as {@code <volume>-drill}, replication going on); a
 * real recovery promotes the volumes' owner at the point, once for the whole run, after which the
 * volumes' own exports take writes. Implemented by the site; tests give their own.
 */
public interface RecoveryDisks {

  /** One volume as the run's VM reads it: its export and the point it shows. */
  record Point(String volume, String export, long seq, Instant time) {}

  /**
   * The disks of one server or of a whole promotion.
   *
   * @param prepareNanos how long the promotion or the drill's clone took
   * @param exportNanos how long until the exports answered on the NBD port
   */
  record Prepared(List<Point> points, long prepareNanos, long exportNanos) {
    public Prepared {
      points = List.copyOf(points);
    }
  }

  /**
   * Starts a drill of each of {@code volumes} at one point: {@code seq} on the first volume (the
   * others at that write's time), {@code at}, or (both null) what each replica holds now.
   */
  CompletableFuture<Prepared> drill(List<String> volumes, Long seq, Instant at);

  /** Stops the drill of {@code volume} and discards its clone; false when none was running. */
  boolean stopDrill(String volume);

  /** The promotion seam: promote the owner of these volumes, once, at this point. */
  VolumesPromoter promoter();

  /** Where the VMs reach the site's NBD exports. */
  String nbdHost();

  int nbdPort();
}
