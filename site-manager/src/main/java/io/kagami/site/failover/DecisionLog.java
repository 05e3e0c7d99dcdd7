package io.kagami.site.failover;

import io.kagami.failover.Decision;
import java.lang.System.Logger.Level;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;

/**
 * The policy's decisions as an operator follows them: the current one, and a log line plus a
 * wall-clock entry in {@code recentDecisions} each time its kind changes (not every tick: reasons
 * carry running times). Keeps the newest {@value #RECENT} changes.
 *
 * <p>Not thread-safe: the {@link PolicyDriver} calls it under its lock only. Never blocks.
 */
final class DecisionLog {
  private static final System.Logger LOG = System.getLogger(DecisionLog.class.getName());
  static final int RECENT = 12;

  private final String siteId;
  private final InstantSource wall;
  private final Deque<FailoverStatus.DecisionChange> recent = new ArrayDeque<>();
  private Decision current;
  private String currentType;

  DecisionLog(String siteId, InstantSource wall) {
    this.siteId = siteId;
    this.wall = wall;
  }

  /**
   * Keeps {@code d} as the current decision (made at {@code term}); logs it when its kind changed.
   */
  void record(Decision d, long term) {
    current = d;
    String type = typeOf(d);
    if (type.equals(currentType)) {
      return;
    }
    currentType = type;
    recent.addLast(new FailoverStatus.DecisionChange(wall.instant().toString(), type, d.reason()));
    while (recent.size() > RECENT) {
      recent.removeFirst();
    }
    Level level =
        d instanceof Decision.Stay || d instanceof Decision.Suppressed ? Level.INFO : Level.WARNING;
    LOG.log(level, "site {0}: failover decision={1} term={2}: {3}", siteId, type, term, d.reason());
  }

  /** The newest decision, or null before the first tick. */
  Decision current() {
    return current;
  }

  /** The newest changes, oldest first. */
  List<FailoverStatus.DecisionChange> recent() {
    return List.copyOf(recent);
  }

  /** The decision's name in status and logs. */
  static String typeOf(Decision d) {
    return switch (d) {
      case Decision.Stay s -> "stay";
      case Decision.SelfFence s -> "self-fence";
      case Decision.StepDown s -> "step-down";
      case Decision.RequestPromotion r -> "request-promotion";
      case Decision.Fence f -> "fence";
      case Decision.Promote p -> "promote";
      case Decision.Suppressed s -> "suppressed";
    };
  }
}
