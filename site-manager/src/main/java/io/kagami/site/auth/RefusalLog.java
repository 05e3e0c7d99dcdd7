package io.kagami.site.auth;

import io.kagami.clock.KeyedRateLimit;
import io.kagami.clock.SystemTime;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * The admin and witness ports' WARNING lines about refused requests (no token, wrong token),
 * limited per client address with the same numbers as the NBD and WAN ports: a burst of {@link
 * #BURST} lines, then one every {@link #REFILL}, at most {@link #MAX_ADDRESSES} addresses
 * remembered ({@link KeyedRateLimit}). A line over the limit is counted, not written; the next line
 * about that address says how many were dropped, so 10,000 unauthenticated calls cost a few dozen
 * lines and a count, not 10,000 lines.
 *
 * <p>Thread-safe: called from the HTTP server's request threads.
 */
public final class RefusalLog {
  static final int BURST = 32;
  static final Duration REFILL = Duration.ofSeconds(5);
  static final int MAX_ADDRESSES = 4096;

  private final Logger log;
  private final KeyedRateLimit limit;

  public RefusalLog(Logger log) {
    this.log = log;
    this.limit = new KeyedRateLimit(SystemTime.NANO, BURST, REFILL, MAX_ADDRESSES);
  }

  /** Logs {@code line} at WARNING about the client at {@code from}, unless it is over its limit. */
  public void warn(InetSocketAddress from, String line) {
    String key =
        from == null
            ? "?"
            : from.getAddress() != null ? from.getAddress().getHostAddress() : from.getHostString();
    long droppedBefore = limit.admit(key);
    if (droppedBefore < 0) {
      return;
    }
    log.log(Level.WARNING, KeyedRateLimit.noteDropped(line, droppedBefore));
  }

  /** Lines dropped by the limit since this log was created. */
  public long dropped() {
    return limit.refused();
  }
}
