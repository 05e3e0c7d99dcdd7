package io.kagami.wan.receive;

import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.tls.Tls;
import java.lang.System.Logger.Level;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The standby's side of a resync on one connection: RESYNC starts it (the replica is inconsistent
 * from then on), REGION frames are written into the replica, REGION_SUM frames compared with it
 * (REGION_WANTED when they differ), and regions are acknowledged in groups (REGIONS_DURABLE) after
 * one sync of the replica covers many; RESYNC_END marks the point where the replica is consistent
 * again and acknowledges the resync's base.
 *
 * <p>Back-pressure: region bytes count in the connection's {@link InflowGate} until written.
 *
 * <p>Threads: the connection's event loop; every sink call is queued on the volume's {@link
 * VolumeChain} and its outcome handed back to the loop.
 */
final class ResyncReceiver {
  private static final System.Logger LOG = System.getLogger(Receiver.class.getName());

  /**
   * Regions are acknowledged after a sync of the replica at most this many regions or bytes apart.
   */
  static final int REGIONS_PER_SYNC = 128;

  static final long REGION_BYTES_PER_SYNC = 4L << 20;

  private final ReceiveSession session;

  ResyncReceiver(ReceiveSession session) {
    this.session = session;
  }

  void resync(WanMessage.Resync r) {
    VolumeLane lane = session.lane("RESYNC", r.volume());
    if (lane == null) {
      return;
    }
    lane.regionsReceived = 0;
    lane.regionsAckRequested = 0;
    lane.regionBytesSinceSync = 0;
    lane.resyncBase = r.baseSeq();
    LOG.log(
        Level.INFO,
        "WAN peer {0}: volume {1} is being resynchronized from seq {2}; the replica is inconsistent until it completes",
        session.siteId(),
        lane.volume,
        r.baseSeq());
    onChain(
        lane,
        () -> lane.sink.beginResync(r.baseSeq()),
        () -> "starting the resync of volume " + lane.volume + " at seq " + r.baseSeq(),
        x -> lane.chain.durable(r.baseSeq()));
  }

  void region(WanMessage.Region r) {
    VolumeLane lane = regionLane("REGION", r.volume(), r.offset(), r.length());
    if (lane == null) {
      return;
    }
    int bytes = r.length();
    session.receivedRaw(bytes);
    session.inflow().received(bytes);
    lane.regionsReceived++;
    lane.regionBytesSinceSync += bytes;
    boolean queued =
        onChain(
            lane,
            () -> lane.sink.storeRegion(r.offset(), r.length(), r.data()),
            () -> session.inflow().settled(bytes),
            () -> "writing a region of volume " + lane.volume + " at offset " + r.offset(),
            x -> {});
    if (!queued) {
      return;
    }
    // Acknowledge in groups: one sync of the replica covers many regions.
    if (lane.regionsReceived - lane.regionsAckRequested >= REGIONS_PER_SYNC
        || lane.regionBytesSinceSync >= REGION_BYTES_PER_SYNC) {
      syncAndAckRegions(lane);
    }
  }

  /**
   * Like {@link ReceiveSession#lane}, and fails the connection for a region beyond the volume's
   * end.
   */
  private VolumeLane regionLane(String frame, String volume, long offset, int length) {
    VolumeLane lane = session.lane(frame, volume);
    if (lane != null && (offset + length > lane.sink.sizeBytes() || offset + length < 0)) {
      session.fail(
          frame
              + " "
              + offset
              + "+"
              + length
              + " of volume "
              + lane.volume
              + " is beyond its size of "
              + lane.sink.sizeBytes()
              + " bytes",
          true);
      return null;
    }
    return lane;
  }

  void regionSum(WanMessage.RegionSum r) {
    VolumeLane lane = regionLane("REGION_SUM", r.volume(), r.offset(), r.length());
    if (lane == null) {
      return;
    }
    lane.regionsReceived++;
    boolean queued =
        onChain(
            lane,
            () -> lane.sink.regionMatches(r.offset(), r.length(), r.sum()),
            () -> "comparing a region of volume " + lane.volume + " at offset " + r.offset(),
            match -> {
              if (!match && !session.closed()) {
                session.send(new WanMessage.RegionWanted(lane.volume, r.offset()));
              }
            });
    if (!queued) {
      return;
    }
    if (lane.regionsReceived - lane.regionsAckRequested >= REGIONS_PER_SYNC * 8) {
      syncAndAckRegions(lane);
    }
  }

  /**
   * A heartbeat asks for every region not acknowledged yet (a primary waiting for the last ones).
   */
  void flushRegionAcks() {
    if (session.lanes() == null) {
      return;
    }
    for (VolumeLane lane : session.lanes().values()) {
      if (lane.regionsReceived > lane.regionsAckRequested) {
        syncAndAckRegions(lane);
      }
    }
  }

  private void syncAndAckRegions(VolumeLane lane) {
    long count = lane.regionsReceived;
    lane.regionsAckRequested = count;
    lane.regionBytesSinceSync = 0;
    onChain(
        lane,
        lane.sink::syncRegions,
        () -> "syncing resynchronized regions of volume " + lane.volume,
        x -> {
          if (!session.closed()) {
            session.send(new WanMessage.RegionsDurable(lane.volume, count));
          }
        });
  }

  void resyncEnd(WanMessage.ResyncEnd e) {
    VolumeLane lane = session.lane("RESYNC_END", e.volume());
    if (lane == null) {
      return;
    }
    syncAndAckRegions(lane);
    onChain(
        lane,
        () -> lane.sink.endResync(e.consistentAtSeq()),
        () -> "ending the resync of volume " + lane.volume,
        x -> {
          LOG.log(
              Level.INFO,
              "WAN peer {0}: volume {1}: all {2} regions of the resync received; consistent once seq {3} is applied",
              session.siteId(),
              lane.volume,
              lane.regionsReceived,
              e.consistentAtSeq());
          // The regions, now durable, hold every change through the base: acknowledge it.
          session.acknowledge(lane, lane.resyncBase);
        });
  }

  private <T> boolean onChain(
      VolumeLane lane,
      Supplier<CompletableFuture<T>> step,
      Supplier<String> failing,
      Consumer<T> done) {
    return onChain(lane, step, () -> {}, failing, done);
  }

  /**
   * Queues {@code step} on the volume's chain and hands its outcome back to the event loop: first
   * {@code settled} runs, then a failure fails the connection (unless it has closed) as "{@code
   * failing} failed: …", and a result goes to {@code done}. Returns false when the connection
   * closed before the step could be queued.
   */
  private <T> boolean onChain(
      VolumeLane lane,
      Supplier<CompletableFuture<T>> step,
      Runnable settled,
      Supplier<String> failing,
      Consumer<T> done) {
    CompletableFuture<T> outcome = lane.chain.then(session.loop(), session::closed, step);
    if (outcome == null) {
      return false;
    }
    outcome.whenComplete(
        (result, err) ->
            session.onLoop(
                () -> {
                  settled.run();
                  if (err == null) {
                    done.accept(result);
                  } else if (!session.closed()) {
                    session.fail(
                        failing.get() + " failed: " + Tls.explain(ReceiveSession.unwrap(err)),
                        true);
                  }
                }));
    return true;
  }
}
