package io.kagami.failover.monitor;

/**
 * One probe's outcome: the input of {@link MonitorTracker}. Probes produce these; tests can too.
 *
 * @param detail operator-readable, e.g. "connect to 127.0.0.1:5432 refused"
 */
public record ProbeResult(String monitor, boolean healthy, String detail) {
  public static ProbeResult healthy(String monitor, String detail) {
    return new ProbeResult(monitor, true, detail);
  }

  public static ProbeResult failed(String monitor, String detail) {
    return new ProbeResult(monitor, false, detail);
  }
}
