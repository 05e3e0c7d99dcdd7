package io.kagami.failover.heartbeat;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Heartbeats from the peer over several independent paths (the WAN link, the witness, a separate
 * UDP/HTTP path). The peer is lost only when <em>every</em> path has been silent for longer than
 * {@code lostAfter}: one dead path is a network fault to report, not a reason to fail over.
 *
 * <p>A path never heard counts as silent since the tracker was created, so a site that starts and
 * never hears its peer declares it lost after {@code lostAfter}, not at once.
 *
 * <p>Not thread-safe: the owner feeds it and asks it from one thread (or under its own lock).
 */
public final class HeartbeatTracker {
  /** What is known about one path. {@code lastHeard} is null when the path was never heard. */
  public record PathStatus(String path, Instant lastHeard, Duration silentFor, boolean alive) {}

  private final InstantSource clock;
  private final Duration lostAfter;
  private final Instant createdAt;
  private final Map<String, Instant> lastHeard = new LinkedHashMap<>();
  private Heartbeat latest;

  public HeartbeatTracker(List<String> paths, Duration lostAfter, InstantSource clock) {
    if (paths.isEmpty()) {
      throw new IllegalArgumentException("heartbeat: at least one path is needed");
    }
    if (lostAfter.isNegative() || lostAfter.isZero()) {
      throw new IllegalArgumentException("heartbeat: lostAfter must be positive, got " + lostAfter);
    }
    this.clock = Objects.requireNonNull(clock);
    this.lostAfter = lostAfter;
    this.createdAt = clock.instant();
    for (String p : paths) {
      if (lastHeard.containsKey(p)) {
        throw new IllegalArgumentException("heartbeat: path \"" + p + "\" is listed twice");
      }
      lastHeard.put(p, null);
    }
  }

  /** Records a heartbeat received now on {@code path}. */
  public void heard(String path, Heartbeat heartbeat) {
    if (!lastHeard.containsKey(path)) {
      throw new IllegalArgumentException(
          "heartbeat on unknown path \"" + path + "\" (known: " + lastHeard.keySet() + ")");
    }
    lastHeard.put(path, clock.instant());
    // Paths may deliver out of order; the newest by the sender's own clock is the peer's state.
    if (latest == null || !heartbeat.sentAt().isBefore(latest.sentAt())) {
      latest = heartbeat;
    }
  }

  /** The newest heartbeat from the peer (by its send time), or null if none was ever heard. */
  public Heartbeat latest() {
    return latest;
  }

  /** True when every path has been silent for at least {@code lostAfter}. */
  public boolean peerLost() {
    Instant now = clock.instant();
    return paths(now).stream().noneMatch(PathStatus::alive);
  }

  /** When the peer was last heard on any path, or null. */
  public Instant lastHeardAny() {
    Instant newest = null;
    for (Instant t : lastHeard.values()) {
      if (t != null && (newest == null || t.isAfter(newest))) {
        newest = t;
      }
    }
    return newest;
  }

  public List<PathStatus> paths() {
    return paths(clock.instant());
  }

  private List<PathStatus> paths(Instant now) {
    List<PathStatus> out = new ArrayList<>(lastHeard.size());
    for (Map.Entry<String, Instant> e : lastHeard.entrySet()) {
      Instant since = e.getValue() == null ? createdAt : e.getValue();
      Duration silent = Duration.between(since, now);
      out.add(new PathStatus(e.getKey(), e.getValue(), silent, silent.compareTo(lostAfter) < 0));
    }
    return out;
  }

  /** Operator-readable: "wan silent 12.0s, witness heard 0.4s ago". */
  public String describe() {
    StringBuilder sb = new StringBuilder();
    for (PathStatus p : paths()) {
      if (!sb.isEmpty()) {
        sb.append(", ");
      }
      sb.append(p.path());
      if (p.lastHeard() == null) {
        sb.append(" never heard (").append(seconds(p.silentFor())).append(")");
      } else {
        sb.append(p.alive() ? " heard " : " silent ")
            .append(seconds(p.silentFor()))
            .append(p.alive() ? " ago" : "");
      }
    }
    return sb.toString();
  }

  static String seconds(Duration d) {
    return String.format("%.1fs", d.toMillis() / 1000.0);
  }
}
