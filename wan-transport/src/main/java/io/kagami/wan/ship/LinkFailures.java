package io.kagami.wan.ship;

import java.lang.System.Logger.Level;
import java.time.Instant;
import java.time.InstantSource;

/**
 * What went wrong last on one shipper's link (connection lost, refused, a volume stalled), stamped
 * with the wall clock for the status page, and logged once per distinct reason: a link that keeps
 * failing the same way while it retries logs one line, not one per attempt.
 *
 * <p>{@link #report} is called on the agent thread only (the dedupe state is the agent's); {@link
 * #last()} from any thread.
 */
final class LinkFailures {
  /** A reason and when it happened. */
  record Failure(String reason, Instant at) {}

  private static final System.Logger LOG =
      System.getLogger(
          Shipper.class.getName()); // operators configure the link's log under the shipper's name

  private final InstantSource clock;
  private final String peer;
  private final String address;
  private volatile Failure last;
  private String logged; // agent: the reason last logged

  LinkFailures(InstantSource clock, String peer, String address) {
    this.clock = clock;
    this.peer = peer;
    this.address = address;
  }

  /** Agent: records {@code reason} and logs it unless it was the last one logged. */
  void report(String reason) {
    last = new Failure(reason, clock.instant());
    if (!reason.equals(logged)) {
      logged = reason;
      LOG.log(Level.WARNING, "WAN link to {0} ({1}): {2}", peer, address, reason);
    }
  }

  /** Agent: the link is up again; the next failure is logged even if it repeats the last. */
  void recovered() {
    logged = null;
  }

  /** The last failure, kept after recovery; null if none yet. Any thread. */
  Failure last() {
    return last;
  }
}
