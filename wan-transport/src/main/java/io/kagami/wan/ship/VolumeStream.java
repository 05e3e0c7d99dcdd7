package io.kagami.wan.ship;

import io.kagami.clock.NanoClock;
import io.kagami.journal.JournalEntry;
import io.kagami.wan.throttle.RateWindow;
import java.util.ArrayDeque;

/**
 * One volume's stream on one link: the cursors of its history (read, pending, sent, acknowledged),
 * why it is stalled if it is, and its {@link SendWindow} and {@link RegionCopier}. One per volume
 * and shipper: two links (two peers) never share a stream, so one volume's stall, overflow or
 * resync toward one peer cannot hold up another.
 *
 * <p>Threads, three rules, each field marked with its own:
 *
 * <ul>
 *   <li><b>agent</b>: plain fields, read and written only by the shipper's agent thread;
 *   <li><b>agent → any</b>: volatile, written only by the agent, read by the event loop (to check
 *       ACKs), {@link Shipper#snapshot()} and {@link Shipper#handover};
 *   <li><b>shared</b>: the {@link SendWindow}, which both threads change under its own lock.
 * </ul>
 *
 * The event loop enters only through {@link #onAck} and the copier's {@link
 * RegionCopier#requested}; it never calls a method that may block ({@link ShipSource#acknowledged}
 * must not).
 */
final class VolumeStream {
  /** No retry time: a stalled volume waits for the next WELCOME. */
  static final long NO_RETRY = Long.MIN_VALUE;

  final ShipSource source;
  final String name;
  final SendWindow window = new SendWindow(); // shared
  final RegionCopier copier; // agent, except RegionCopier#requested (event loop)
  final RateWindow rawRate; // thread-safe: journal bytes sent, for the drain estimate
  private final LinkFailures failures;

  // agent
  long readSeq = 1; // next seq to read from the journal
  final ArrayDeque<JournalEntry> pending = new ArrayDeque<>(); // read, not yet sent
  long pendingBytes;
  long pendingSinceNanos; // when the oldest pending entry was read; meaningful while pending is not
  // empty
  long lingerNanos; // how long the pending entries wait for company; 0 = not waiting
  long reportedAck; // the durable point last passed to ShipSource#peerDurable
  long retryAtNanos = NO_RETRY; // a stalled volume retries then

  // agent → any
  volatile long lastSent; // highest seq written to the link
  volatile long resumedFrom; // the standby's durable point in the last WELCOME
  volatile String stalled; // why this volume is not shipping, or null
  volatile boolean
      diverged; // the standby's history is not a prefix of this journal's: never tell the source it

  // is durable

  VolumeStream(ShipSource source, NanoClock nanoClock, LinkFailures failures) {
    this.source = source;
    this.name = source.volume();
    this.rawRate = new RateWindow(nanoClock, WirePacer.RATE_WINDOW);
    this.failures = failures;
    this.copier = new RegionCopier(this);
  }

  /** Agent, on WELCOME: the stream restarts right after {@code durable}, nothing stalled. */
  void resume(long durable) {
    window.resume(durable);
    lastSent = durable;
    resumedFrom = durable;
    restartAt(durable + 1);
    stalled = null;
    retryAtNanos = NO_RETRY;
    diverged = false;
    copier.linkResumed();
  }

  /** Agent: drops what was read but not sent; reading continues at {@code seq}. */
  void restartAt(long seq) {
    pending.clear();
    pendingBytes = 0;
    readSeq = seq;
  }

  /**
   * Agent: stops shipping this volume until {@code retryAtNanos} ({@link NanoClock} time), or until
   * the next WELCOME when {@link #NO_RETRY}; reports the reason as the link's last failure.
   */
  void stall(String reason, long retryAtNanos) {
    stalled = reason;
    this.retryAtNanos = retryAtNanos;
    restartAt(lastSent + 1);
    failures.report(reason);
  }

  /**
   * Agent: a stall with a retry time that has come is lifted; returns the nanoseconds still to
   * wait, 0 when the volume may ship now, or -1 when it waits for the next WELCOME.
   */
  long stallLeft(long now) {
    if (stalled == null) {
      return 0;
    }
    if (retryAtNanos == NO_RETRY) {
      return -1;
    }
    long left = retryAtNanos - now;
    if (left > 0) {
      return left;
    }
    stalled = null;
    retryAtNanos = NO_RETRY;
    return 0;
  }

  /**
   * Event loop: the standby reports everything through {@code seq} durable. Returns false, changing
   * nothing, when that is beyond what was sent: a source told "durable" beyond it might trim what
   * the standby lacks, so the caller drops the connection (fail closed).
   */
  boolean onAck(long seq) {
    if (seq > lastSent) {
      return false;
    }
    if (window.ack(seq) == SendWindow.AckResult.ADVANCED && !diverged) {
      source.acknowledged(seq); // sync mode's waiting writes, released without a thread hop
    }
    return true;
  }

  /** Agent: passes the standby's durable point to the source (which may block on disk). */
  void reportDurable() {
    long a = window.acked();
    if (a > reportedAck && !diverged) {
      reportedAck = a;
      source.peerDurable(a);
    }
  }

  /** This volume's progress for the status page; any thread. */
  LinkSnapshot.VolumeProgress progress() {
    return new LinkSnapshot.VolumeProgress(
        lastSent, window.acked(), resumedFrom, stalled, rawRate.bytesPerSecond());
  }
}
