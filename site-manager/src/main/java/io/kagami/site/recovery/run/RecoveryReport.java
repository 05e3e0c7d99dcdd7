package io.kagami.site.recovery.run;

import java.util.List;

/**
 * What one recovery run did, per server, written as {@code <dataDir>/recovery/reports/<id>.json}
 * and answered by {@code POST /recover}: the evidence a DR test needs. Times are ISO-8601 instants
 * from the site's clock; durations are milliseconds.
 *
 * @param kind {@code drill} or {@code recovery}
 * @param requestedAt when the run was asked for: RPO and RTO are measured from it
 * @param result {@code ok} when every server became healthy, else {@code failed}
 * @param bootOrder the servers in the order their VMs actually started
 * @param tested in a drill, the points this run proved bootable (each healthy server's point)
 */
public record RecoveryReport(
    String id,
    String kind,
    String requestedAt,
    String finishedAt,
    String pointAsked,
    String result,
    List<String> bootOrder,
    List<Server> servers,
    List<String> notes) {

  public RecoveryReport {
    bootOrder = List.copyOf(bootOrder);
    servers = List.copyOf(servers);
    notes = List.copyOf(notes);
  }

  /** Each server's outcome. */
  public enum Result {
    /** Its health check passed. */
    HEALTHY,
    /** Its disks could not be prepared, or every attempt ended without a passing check. */
    FAILED,
    /** Not started: a server it depends on (or an earlier group's) did not become healthy. */
    BLOCKED,
    /** Not started: the run was stopped first. */
    STOPPED
  }

  /**
   * One server.
   *
   * @param point the boot volume's point: sequence number and the time that write was journaled on
   *     this site; null when the disks were never prepared
   * @param volumes every volume's point
   * @param rpoMillis requestedAt minus the point's time: the writes the recovered server lacks; 0
   *     when the point was written after the request (a drill clones a replica that still receives)
   * @param rtoMillis requestedAt to the passing health check
   * @param rto the RTO's parts: promotion or drill clone, export, VM start, boot to first console
   *     output, from there to the passing health check
   */
  public record Server(
      String name,
      int priority,
      List<String> dependsOn,
      Result result,
      String reason,
      List<String> blockedBy,
      Point point,
      List<Point> volumes,
      Long rpoMillis,
      String bootStartedAt,
      String healthyAt,
      Long rtoMillis,
      Breakdown rto,
      int attempts,
      String healthCheck,
      String console) {}

  /** A volume's point: its export, the sequence number, when that write was journaled here. */
  public record Point(String volume, String export, long seq, String time) {
    static Point of(RecoveryDisks.Point p) {
      return new Point(
          p.volume(), p.export(), p.seq(), p.time() == null ? null : p.time().toString());
    }
  }

  /** The RTO's parts in milliseconds; null: the step did not happen. */
  public record Breakdown(
      Long prepareMillis,
      Long exportMillis,
      Long vmStartMillis,
      Long bootMillis,
      Long healthMillis) {}
}
