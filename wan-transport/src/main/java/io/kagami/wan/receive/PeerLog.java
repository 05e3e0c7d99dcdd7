package io.kagami.wan.receive;

import io.kagami.clock.KeyedRateLimit;
import io.kagami.clock.NanoClock;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.text.MessageFormat;
import java.time.Duration;

/**
 * The receiver's log lines about the connections it accepts (TLS refusals, bad frames, connections
 * closed before the handshake), limited per client address so a hostile or broken client cannot
 * flood the log: each address may log a burst of {@link #BURST} lines, then one more every {@link
 * #REFILL}. Lines over the limit are counted, not written; the next line that address may log says
 * how many were dropped, and {@link #dropped()} feeds the {@code
 * kagami_wan_log_dropped_lines_total} metric. Addresses are keyed by IP (each connection has a new
 * port) and at most {@link #MAX_ADDRESSES} are remembered, the least recently seen forgotten first,
 * so an attacker with many addresses costs bounded memory and at most one burst each.
 *
 * <p>The same numbers as the NBD server's {@code ClientLog} (replicator), from the same {@link
 * KeyedRateLimit}; only the line's wording differs. A site keeps one instance for its lifetime,
 * across the receivers its role changes create, so the count is the site's.
 *
 * <p>Lines about the receiver itself (listening, closing) and about admitted peers' normal life are
 * not routed here. Thread-safe: called from every event loop; one short lock per line.
 */
public final class PeerLog {
  static final int BURST = 32;
  static final Duration REFILL = Duration.ofSeconds(5);
  static final int MAX_ADDRESSES = 4096;

  private final KeyedRateLimit limit;

  public PeerLog(NanoClock clock) {
    this.limit = new KeyedRateLimit(clock, BURST, REFILL, MAX_ADDRESSES);
  }

  /**
   * Logs {@code pattern} (a {@link MessageFormat} pattern) about the client at {@code host} (its IP
   * address) to {@code log}, unless that address has used up its lines; then counts it.
   */
  void log(Logger log, Level level, String host, String pattern, Object... args) {
    if (!log.isLoggable(level)) {
      return;
    }
    long droppedBefore = limit.admit(host);
    if (droppedBefore < 0) {
      return;
    }
    log.log(level, KeyedRateLimit.noteDropped(MessageFormat.format(pattern, args), droppedBefore));
  }

  /** Lines dropped by the limit since this log was created. */
  public long dropped() {
    return limit.refused();
  }
}
