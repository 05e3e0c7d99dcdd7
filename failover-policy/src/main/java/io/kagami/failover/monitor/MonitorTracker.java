package io.kagami.failover.monitor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The decision half of application monitoring: counts consecutive failures per monitor, and
 * requests failover when any monitor has failed {@code threshold} times in a row. One healthy
 * result resets that monitor's count. Pure; not thread-safe (fed from one thread).
 */
public final class MonitorTracker {
  /** One monitor's state: its consecutive failures and the newest result. */
  public record MonitorStatus(String name, int consecutiveFailures, ProbeResult last) {}

  private final int threshold;
  private final Map<String, MonitorStatus> monitors = new LinkedHashMap<>();

  public MonitorTracker(List<MonitorConfig> configs, int threshold) {
    if (threshold < 1) {
      throw new IllegalArgumentException(
          "monitor failure threshold must be at least 1, got " + threshold);
    }
    this.threshold = threshold;
    for (MonitorConfig c : configs) {
      monitors.put(c.name(), new MonitorStatus(c.name(), 0, null));
    }
  }

  public void record(ProbeResult r) {
    MonitorStatus s = monitors.get(r.monitor());
    if (s == null) {
      throw new IllegalArgumentException(
          "result for unknown monitor \"" + r.monitor() + "\" (known: " + monitors.keySet() + ")");
    }
    monitors.put(
        r.monitor(),
        new MonitorStatus(r.monitor(), r.healthy() ? 0 : s.consecutiveFailures() + 1, r));
  }

  /** Why failover is requested, or null while every monitor is below the threshold. */
  public String failoverRequest() {
    for (MonitorStatus s : monitors.values()) {
      if (s.consecutiveFailures() >= threshold) {
        return "monitor \""
            + s.name()
            + "\" failed "
            + s.consecutiveFailures()
            + " times in a row (threshold "
            + threshold
            + "): "
            + s.last().detail();
      }
    }
    return null;
  }

  public List<MonitorStatus> status() {
    return List.copyOf(monitors.values());
  }
}
