package io.kagami.failover.heartbeat;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * What one site tells its peer, every heartbeat interval, on every path.
 *
 * <p>Timestamps are never compared across clocks: {@code sentAt} is the sender's clock and is only
 * ever echoed back; {@code echo} is the <em>receiver's</em> own {@code sentAt} from the newest
 * heartbeat the sender has heard, so the receiver compares it with its own clock only.
 *
 * @param siteId the sender
 * @param term the newest lease term the sender holds or has been granted (0: none)
 * @param primary whether the sender acts as primary (holds the lease and may write)
 * @param plannedStop the sender is in maintenance mode / a planned stop: its peer must not fail
 *     over
 * @param steppedDown the sender (a primary) gave up its lease on purpose, e.g. its application
 *     failed
 * @param sentAt the sender's clock when sending
 * @param echo the receiver's {@code sentAt} from the newest heartbeat the sender heard, or null
 *     (none yet, or the sender is claiming the lease and so no longer vouches for the receiver)
 * @param lostAfter how long the sender waits in silence before it considers the receiver lost
 */
public record Heartbeat(
    String siteId,
    long term,
    boolean primary,
    boolean plannedStop,
    boolean steppedDown,
    Instant sentAt,
    Instant echo,
    Duration lostAfter) {
  public Heartbeat {
    Objects.requireNonNull(siteId, "siteId");
    Objects.requireNonNull(sentAt, "sentAt");
    Objects.requireNonNull(lostAfter, "lostAfter");
    if (term < 0) {
      throw new IllegalArgumentException("heartbeat term " + term + " is negative");
    }
  }
}
