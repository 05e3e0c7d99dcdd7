package io.kagami.wan.ship;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * One volume's unacknowledged frames on the link: the BATCHes and resync REGIONs sent and not yet
 * acknowledged, their entry bytes (what {@link ShipperConfig#windowBytes} bounds), and the
 * standby's durable point. It is the only per-volume state both of the shipper's threads write: the
 * agent adds what it sends and resets it on each WELCOME; the event loop applies ACK and
 * REGIONS_DURABLE. Every method is therefore short and synchronized on this window (never held
 * while calling out); {@link #bytes()} and {@link #acked()} are also readable without the lock.
 *
 * <p>Guarantees: the acknowledged seq only rises within a connection (a WELCOME may set it back
 * when the standby lost history; the agent logs that); batches leave the window in send order as
 * ACKs cover their last seq; regions leave it in send order, only as many as REGIONS_DURABLE
 * counted, and only when the agent collects them ({@link #takeDurableRegions}) so that it, not the
 * event loop, tells the resync source.
 */
final class SendWindow {
  /** A BATCH on the wire: the last seq it carries and its entry bytes. */
  record InflightBatch(long lastSeq, long bytes) {}

  /**
   * A REGION or REGION_SUM on the wire: the region's index, its length, and whether only its
   * checksum was sent (the standby may then ask for its data).
   */
  record InflightRegion(long region, int bytes, boolean compared) {}

  /** What {@link #ack} made of an ACK. */
  enum AckResult {
    /** The standby's durable point rose: tell the source. */
    ADVANCED,
    /** Nothing new (a repeated or older ACK); batches it covers were released anyway. */
    UNCHANGED
  }

  private final ArrayDeque<InflightBatch> batches = new ArrayDeque<>();
  private final ArrayDeque<InflightRegion> regions = new ArrayDeque<>();
  private volatile long bytes;
  private volatile long acked;
  private long regionsSent; // since the last RESYNC
  private long regionsAcked; // since the last RESYNC, from REGIONS_DURABLE
  private long regionsReported; // handed to the agent by takeDurableRegions

  /** Entry bytes in flight (batches and regions); any thread. */
  long bytes() {
    return bytes;
  }

  /** The highest seq the standby reported durable on this connection; any thread. */
  long acked() {
    return acked;
  }

  /**
   * Agent, on WELCOME: nothing is in flight on a new connection and the standby holds {@code
   * durable}.
   */
  synchronized void resume(long durable) {
    batches.clear();
    regions.clear();
    bytes = 0;
    acked = durable;
    regionsSent = 0;
    regionsAcked = 0;
    regionsReported = 0;
  }

  /** Agent, on RESYNC: a new pass counts its regions from zero. */
  synchronized void resyncStarted() {
    regions.clear();
    regionsSent = 0;
    regionsAcked = 0;
    regionsReported = 0;
  }

  /** Agent: a BATCH went out. */
  synchronized void sent(InflightBatch b) {
    batches.add(b);
    bytes += b.bytes();
  }

  /** Agent: a REGION or REGION_SUM went out. */
  synchronized void sent(InflightRegion r) {
    regions.add(r);
    bytes += r.bytes();
    regionsSent++;
  }

  /** Agent: regions of the last pass still waiting for REGIONS_DURABLE. */
  synchronized boolean regionsInFlight() {
    return !regions.isEmpty();
  }

  /** Event loop: an ACK through {@code seq}, already checked against what was sent. */
  synchronized AckResult ack(long seq) {
    AckResult r = AckResult.UNCHANGED;
    if (seq > acked) {
      acked = seq;
      r = AckResult.ADVANCED;
    }
    while (!batches.isEmpty() && batches.peek().lastSeq() <= seq) {
      bytes -= batches.poll().bytes();
    }
    return r;
  }

  /**
   * Event loop: REGIONS_DURABLE says the standby holds the first {@code count} regions of the pass.
   * Returns false, changing nothing, when it counts more than were sent.
   */
  synchronized boolean regionsDurable(long count) {
    if (count > regionsSent) {
      return false;
    }
    if (count > regionsAcked) {
      regionsAcked = count;
    }
    return true;
  }

  /** How many regions this pass sent. */
  synchronized long regionsSent() {
    return regionsSent;
  }

  /** Agent: removes and returns the regions acknowledged since the last call, in send order. */
  synchronized List<InflightRegion> takeDurableRegions() {
    List<InflightRegion> done = new ArrayList<>();
    while (regionsReported < regionsAcked && !regions.isEmpty()) {
      InflightRegion r = regions.poll();
      bytes -= r.bytes();
      regionsReported++;
      done.add(r);
    }
    return done;
  }
}
