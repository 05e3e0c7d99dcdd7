package io.kagami.failover;

import io.kagami.failover.fence.FenceCommand;
import io.kagami.failover.monitor.MonitorConfig;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Automatic failover settings for one site of a pair, validated here and nowhere else.
 *
 * <p>The timing rule that makes failover safe, checked below:
 *
 * <pre>
 *   heartbeatInterval * 3  <=  selfFenceAfter  <  lease          (and  <  peerLostAfter)
 * </pre>
 *
 * An isolated primary stops acknowledging writes {@code selfFenceAfter} after its last evidence
 * that it still holds the lease (a witness renewal, or the standby echoing its heartbeat); the
 * witness hands the lease to the standby no earlier than {@code lease + margin} after the last
 * renewal, and the standby does not even ask before {@code peerLostAfter} of silence. So the old
 * primary has stopped before the new one starts.
 *
 * @param autoFailover off by default: without it the standby never promotes itself and the primary
 *     never fences itself; failover is a human decision
 * @param heartbeatPaths names of the independent paths heartbeats travel (e.g. wan, witness)
 * @param heartbeatInterval how often heartbeats are sent and the lease is renewed
 * @param peerLostAfter silence on every path after which the peer is lost
 * @param selfFenceAfter how long a primary writes past its last lease evidence
 * @param lease the witness's lease duration (the witness's own setting; the primary also never
 *     trusts a renewal for longer than the witness says it granted)
 * @param fence the agent that fences the old primary before promotion, or null: then the old
 *     primary's self-fencing (the timing rule) is the only fence
 * @param monitors application monitors run at the primary
 * @param monitorFailures consecutive failures of one monitor that request failover
 */
public record FailoverConfig(
    boolean autoFailover,
    List<String> heartbeatPaths,
    Duration heartbeatInterval,
    Duration peerLostAfter,
    Duration selfFenceAfter,
    Duration lease,
    FenceCommand fence,
    List<MonitorConfig> monitors,
    int monitorFailures) {

  public static final List<String> DEFAULT_PATHS = List.of("wan", "witness");
  public static final Duration DEFAULT_HEARTBEAT_INTERVAL = Duration.ofSeconds(1);
  public static final Duration DEFAULT_PEER_LOST_AFTER = Duration.ofSeconds(10);
  public static final Duration DEFAULT_SELF_FENCE_AFTER = Duration.ofSeconds(6);
  public static final Duration DEFAULT_LEASE = Duration.ofSeconds(10);
  public static final int DEFAULT_MONITOR_FAILURES = 3;

  public FailoverConfig {
    heartbeatPaths = heartbeatPaths == null ? DEFAULT_PATHS : List.copyOf(heartbeatPaths);
    heartbeatInterval =
        orDefault(heartbeatInterval, DEFAULT_HEARTBEAT_INTERVAL, "heartbeatInterval");
    peerLostAfter = orDefault(peerLostAfter, DEFAULT_PEER_LOST_AFTER, "peerLostAfter");
    selfFenceAfter = orDefault(selfFenceAfter, DEFAULT_SELF_FENCE_AFTER, "selfFenceAfter");
    lease = orDefault(lease, DEFAULT_LEASE, "lease");
    monitors = monitors == null ? List.of() : List.copyOf(monitors);
    if (heartbeatPaths.isEmpty()) {
      throw new IllegalArgumentException(
          "failover.heartbeatPaths: at least one path is needed (e.g. [wan, witness])");
    }
    if (new HashSet<>(heartbeatPaths).size() != heartbeatPaths.size()) {
      throw new IllegalArgumentException(
          "failover.heartbeatPaths: " + heartbeatPaths + " lists a path twice");
    }
    if (selfFenceAfter.compareTo(lease) >= 0) {
      throw new IllegalArgumentException(
          "failover: selfFenceAfter "
              + human(selfFenceAfter)
              + " must be shorter than the witness lease "
              + human(lease)
              + ", so an isolated primary has stopped writing before the witness can grant the lease to the standby");
    }
    if (selfFenceAfter.compareTo(peerLostAfter) >= 0) {
      throw new IllegalArgumentException(
          "failover: selfFenceAfter "
              + human(selfFenceAfter)
              + " must be shorter than peerLostAfter "
              + human(peerLostAfter)
              + ", so a primary cut off from the standby stops writing before the standby declares it lost");
    }
    if (heartbeatInterval.multipliedBy(3).compareTo(selfFenceAfter) > 0) {
      throw new IllegalArgumentException(
          "failover: heartbeatInterval "
              + human(heartbeatInterval)
              + " is too long for selfFenceAfter "
              + human(selfFenceAfter)
              + " (at most a third of it), or one lost renewal would fence a healthy primary");
    }
    if (monitorFailures < 1) {
      throw new IllegalArgumentException(
          "failover.monitorFailures must be at least 1, got " + monitorFailures);
    }
    Set<String> names = new HashSet<>();
    for (MonitorConfig m : monitors) {
      if (!names.add(m.name())) {
        throw new IllegalArgumentException(
            "failover.monitors: two monitors are named \"" + m.name() + "\"");
      }
    }
  }

  /**
   * Defaults: automatic failover off, paths wan and witness, 1s/10s/6s/10s, no fence agent, no
   * monitors.
   */
  public static FailoverConfig defaults() {
    return new FailoverConfig(
        false, null, null, null, null, null, null, null, DEFAULT_MONITOR_FAILURES);
  }

  public FailoverConfig withAutoFailover(boolean on) {
    return new FailoverConfig(
        on,
        heartbeatPaths,
        heartbeatInterval,
        peerLostAfter,
        selfFenceAfter,
        lease,
        fence,
        monitors,
        monitorFailures);
  }

  public FailoverConfig withFence(FenceCommand command) {
    return new FailoverConfig(
        autoFailover,
        heartbeatPaths,
        heartbeatInterval,
        peerLostAfter,
        selfFenceAfter,
        lease,
        command,
        monitors,
        monitorFailures);
  }

  public FailoverConfig withMonitors(List<MonitorConfig> list, int failures) {
    return new FailoverConfig(
        autoFailover,
        heartbeatPaths,
        heartbeatInterval,
        peerLostAfter,
        selfFenceAfter,
        lease,
        fence,
        list,
        failures);
  }

  public FailoverConfig withTimings(
      Duration interval, Duration lostAfter, Duration fenceAfter, Duration leaseDuration) {
    return new FailoverConfig(
        autoFailover,
        heartbeatPaths,
        interval,
        lostAfter,
        fenceAfter,
        leaseDuration,
        fence,
        monitors,
        monitorFailures);
  }

  private static Duration orDefault(Duration d, Duration dflt, String name) {
    Duration v = d == null ? dflt : d;
    if (v.isNegative() || v.isZero()) {
      throw new IllegalArgumentException("failover." + name + " must be positive, got " + v);
    }
    return v;
  }

  static String human(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
  }
}
