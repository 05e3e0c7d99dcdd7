package io.kagami.wan.receive;

import io.kagami.clock.NanoClock;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.text.MessageFormat;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

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
 * <p>The same limiter as the NBD server's {@code ClientLog} (replicator), with the same numbers, on
 * purpose a twin rather than shared: {@code wan-transport} must not depend on {@code replicator}
 * (the layering rule: the WAN knows nothing of NBD), and the only module below both is {@code
 * clock}, which owns time and nothing else; a grab-bag common module is what the house style asks
 * us to avoid. A site keeps one instance for its lifetime, across the receivers its role changes
 * create, so the count is the site's.
 *
 * <p>Lines about the receiver itself (listening, closing) and about admitted peers' normal life are
 * not routed here. Thread-safe: called from every event loop; one short lock per line.
 */
public final class PeerLog {
  static final int BURST = 32;
  static final Duration REFILL = Duration.ofSeconds(5);
  static final int MAX_ADDRESSES = 4096;

  private final NanoClock clock;
  private final AtomicLong dropped = new AtomicLong();
  private final Map<String, Bucket> buckets =
      new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Bucket> eldest) {
          return size() > MAX_ADDRESSES;
        }
      };

  public PeerLog(NanoClock clock) {
    this.clock = clock;
  }

  /** Lines of one address: tokens left, when the last token was added, lines dropped since. */
  private static final class Bucket {
    long tokens = BURST;
    long refilledAt;
    long droppedSince;

    Bucket(long now) {
      refilledAt = now;
    }
  }

  /**
   * Logs {@code pattern} (a {@link MessageFormat} pattern) about the client at {@code host} (its IP
   * address) to {@code log}, unless that address has used up its lines; then counts it.
   */
  void log(Logger log, Level level, String host, String pattern, Object... args) {
    if (!log.isLoggable(level)) {
      return;
    }
    long droppedBefore = admit(host);
    if (droppedBefore < 0) {
      return;
    }
    String line = MessageFormat.format(pattern, args);
    if (droppedBefore > 0) {
      line +=
          " ("
              + droppedBefore
              + " earlier line(s) about this client address dropped by the log limit)";
    }
    log.log(level, line);
  }

  /** Lines dropped by the limit since this log was created. */
  public long dropped() {
    return dropped.get();
  }

  /** Returns the lines dropped for this key since its last logged line, or -1 to drop this one. */
  private synchronized long admit(String key) {
    long now = clock.nanoTime();
    Bucket b = buckets.computeIfAbsent(key, k -> new Bucket(now));
    long refill = REFILL.toNanos();
    long earned = (now - b.refilledAt) / refill;
    if (earned > 0) {
      b.tokens = Math.min(BURST, b.tokens + earned);
      b.refilledAt += earned * refill;
    }
    if (b.tokens == 0) {
      b.droppedSince++;
      dropped.incrementAndGet();
      return -1;
    }
    b.tokens--;
    long d = b.droppedSince;
    b.droppedSince = 0;
    return d;
  }
}
