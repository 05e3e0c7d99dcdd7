package io.kagami.replicator.nbd;

import io.kagami.clock.KeyedRateLimit;
import io.kagami.clock.NanoClock;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.text.MessageFormat;
import java.time.Duration;

/**
 * The NBD server's log lines about its clients (bad input, refusals, lost connections), limited per
 * client address so a hostile or broken client cannot flood the log: each address may log a burst
 * of {@link #BURST} lines, then one more every {@link #REFILL}. Lines over the limit are counted,
 * not written; the next line that address may log says how many were dropped, and {@link
 * #dropped()} feeds a metric. Addresses are keyed by IP (each connection has a new port) and at
 * most {@link #MAX_ADDRESSES} are remembered; the least recently seen is forgotten first, so an
 * attacker with many addresses costs bounded memory and at most one burst each.
 *
 * <p>Lines about the server itself (listening, closing) are not routed here. DEBUG lines bypass the
 * limiter: they are off in production and tests want all of them.
 *
 * <p>Thread-safe: called from every event loop of the server; one short lock per logged line.
 */
final class ClientLog {
  static final int BURST = 32;
  static final Duration REFILL = Duration.ofSeconds(5);
  static final int MAX_ADDRESSES = 4096;

  private final KeyedRateLimit limit;

  ClientLog(NanoClock clock) {
    this.limit = new KeyedRateLimit(clock, BURST, REFILL, MAX_ADDRESSES);
  }

  /**
   * Logs {@code pattern} (a {@link MessageFormat} pattern) about {@code peer} to {@code log} (each
   * class keeps its own logger), unless that address has used up its lines; then counts it.
   */
  void log(Logger log, Level level, SocketAddress peer, String pattern, Object... args) {
    if (!log.isLoggable(level)) {
      return;
    }
    if (level.getSeverity() <= Level.DEBUG.getSeverity()) {
      log.log(level, MessageFormat.format(pattern, args));
      return;
    }
    long droppedBefore = limit.admit(key(peer));
    if (droppedBefore < 0) {
      return;
    }
    log.log(level, KeyedRateLimit.noteDropped(MessageFormat.format(pattern, args), droppedBefore));
  }

  /** {@link #log} with a throwable (its stack trace is logged when the line is). */
  void log(Logger log, Level level, SocketAddress peer, String message, Throwable cause) {
    if (!log.isLoggable(level)) {
      return;
    }
    long droppedBefore = limit.admit(key(peer));
    if (droppedBefore < 0) {
      return;
    }
    log.log(level, KeyedRateLimit.noteDropped(message, droppedBefore), cause);
  }

  /** Lines dropped by the limit since the server started. */
  long dropped() {
    return limit.refused();
  }

  private static String key(SocketAddress peer) {
    if (peer instanceof InetSocketAddress inet && inet.getAddress() != null) {
      return inet.getAddress().getHostAddress();
    }
    return String.valueOf(peer);
  }
}
