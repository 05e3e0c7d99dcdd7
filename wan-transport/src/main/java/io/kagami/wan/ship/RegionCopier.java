package io.kagami.wan.ship;

import io.kagami.wan.frame.RegionSum;
import io.kagami.wan.frame.WanMessage;
import io.netty.channel.Channel;
import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * One volume's region copy (resync) toward one standby: RESYNC once with the base seq, then the
 * regions the {@link ResyncSource} marks (as REGION with data, as REGION_SUM when the pass only
 * compares checksums, followed by the data of every region the standby then asks for with
 * REGION_WANTED), within the volume's window and the bandwidth cap, then RESYNC_END with the seq at
 * which the replica is consistent. History shipping resumes from the base only after that.
 *
 * <p>Guarantees: a region is reported {@linkplain ResyncSource#durable durable} only after the
 * standby acknowledged it with REGIONS_DURABLE, and a compared region the standby wants stays
 * marked until its data is durable too, so an interrupted copy resumes with exactly what is still
 * missing. The standby acknowledges in groups; when the window is full, or only acknowledgements
 * are outstanding, a HEARTBEAT asks for them now.
 *
 * <p>Threads: everything runs on the shipper's agent thread (the source may block on disk), except
 * {@link #requested}, which the event loop calls for each REGION_WANTED; those offsets reach the
 * agent through one concurrent queue, drained only <em>after</em> the acknowledgements that
 * followed them were taken from the window, so a wanted region is never cleared by mistake.
 */
final class RegionCopier {
  private static final System.Logger LOG =
      System.getLogger(Shipper.class.getName()); // the link's log, under the shipper's name

  private final VolumeStream v;
  private final ConcurrentLinkedQueue<Long> requests =
      new ConcurrentLinkedQueue<>(); // event loop → agent: REGION_WANTED offsets

  // agent
  private boolean resyncing; // a pass is running: RESYNC sent, RESYNC_END not yet
  private long cursor; // the next region index the pass looks at
  private boolean comparing; // this pass sends checksums, not data
  private long regionsCompared; // this pass: by checksum
  private long regionsWithData; // this pass: with data (zero regions not counted)
  private boolean askedForAcks; // a heartbeat asked for the outstanding acknowledgements
  private final Set<Long> wanted =
      new HashSet<>(); // offsets the standby asked for, data not yet durable
  private final ArrayDeque<Long> toSend = new ArrayDeque<>(); // wanted, data not yet sent

  RegionCopier(VolumeStream v) {
    this.v = v;
  }

  /**
   * Event loop: the standby wants the data of the region at {@code offset} (already checked in
   * range).
   */
  void requested(long offset) {
    requests.add(offset);
  }

  /**
   * Agent, on WELCOME: a pass interrupted by the lost connection starts over when the source says
   * so.
   */
  void linkResumed() {
    resyncing = false;
  }

  /** Agent: whether history must wait for regions: a pass runs or is due. */
  boolean holdsHistory(ResyncSource rs) {
    return resyncing || rs.needed();
  }

  /**
   * Agent: the last pass ended and its final regions are being acknowledged: ship nothing until
   * then, since the history after its base may be needed by a further pass rather than shipped.
   */
  boolean lastPassAcknowledging() {
    return !resyncing && v.window.regionsInFlight();
  }

  /** Agent: RESYNC once, then REGIONs within the window, then RESYNC_END. Returns frames sent. */
  int pump(Channel ch, ResyncSource rs, WirePacer pacer, ShipperConfig config, String peer) {
    int sent = 0;
    if (!resyncing) {
      if (!begin(ch, rs)) {
        return 0;
      }
      sent++;
    }
    while (ch.isActive() && ch.isWritable() && v.window.bytes() < config.windowBytes()) {
      drainRequests();
      Long wantedOffset = toSend.poll();
      if (wantedOffset != null) {
        askedForAcks = false; // the data of wanted regions needs acknowledging too
      }
      long region;
      boolean sum;
      if (wantedOffset != null) {
        region = rs.regionAt(wantedOffset);
        sum = false;
      } else {
        region = rs.nextDirty(cursor);
        if (region < 0) {
          return sent + end(ch, rs, peer);
        }
        cursor = region + 1;
        sum = comparing;
      }
      if (pacer.mayNotSend()) {
        // The bandwidth cap applies to region copies too; the region stays marked until sent.
        if (wantedOffset != null) {
          toSend.add(wantedOffset);
        } else {
          cursor = region;
        }
        return sent;
      }
      send(ch, rs, region, sum, pacer);
      sent++;
    }
    if (ch.isActive() && v.window.bytes() >= config.windowBytes() && !askedForAcks) {
      // The standby acknowledges regions in groups; with the window full, ask for what it holds.
      askedForAcks = true;
      ch.writeAndFlush(new WanMessage.Heartbeat(), ch.voidPromise());
      sent++;
    }
    return sent;
  }

  /** Starts a pass: RESYNC with the base; history is read again from the base once it ends. */
  private boolean begin(Channel ch, ResyncSource rs) {
    long base = rs.begin();
    if (base < v.lastSent) {
      // Should not happen (the base is the journal's end); never let the standby go backwards.
      v.stall(
          "volume "
              + v.name
              + ": resync base "
              + base
              + " is behind seq "
              + v.lastSent
              + ", already sent",
          VolumeStream.NO_RETRY);
      return false;
    }
    resyncing = true;
    comparing = rs.comparing();
    regionsCompared = 0;
    regionsWithData = 0;
    askedForAcks = false;
    requests.clear();
    wanted.clear();
    toSend.clear();
    cursor = 0;
    v.restartAt(base + 1);
    v.lastSent = base;
    v.window.resyncStarted();
    ch.writeAndFlush(new WanMessage.Resync(v.name, base), ch.voidPromise());
    return true;
  }

  /**
   * No marked region left: RESYNC_END, unless a comparing pass still awaits the standby's answers.
   * Returns frames sent.
   */
  private int end(Channel ch, ResyncSource rs, String peer) {
    if (comparing && (v.window.regionsInFlight() || !toSend.isEmpty())) {
      if (!askedForAcks) {
        // The standby acknowledges regions in groups; a heartbeat asks for the rest now.
        askedForAcks = true;
        ch.writeAndFlush(new WanMessage.Heartbeat(), ch.voidPromise());
        return 1;
      }
      return 0; // the standby's answers (which regions it wants) are still coming
    }
    long consistentAt = rs.end();
    ch.writeAndFlush(new WanMessage.ResyncEnd(v.name, consistentAt), ch.voidPromise());
    resyncing = false;
    LOG.log(
        Level.INFO,
        "WAN link to {0}: volume {1}: all {2} regions of the resync sent ({3} compared by checksum, {4} with data, the rest zeroes); the replica is consistent once it applied seq {5}",
        peer,
        v.name,
        v.window.regionsSent(),
        regionsCompared,
        regionsWithData,
        Long.toString(consistentAt));
    return 1;
  }

  private void send(Channel ch, ResyncSource rs, long region, boolean sum, WirePacer pacer) {
    int length = rs.lengthOf(region);
    byte[] data = rs.read(region);
    WanMessage m;
    if (sum && data != null) {
      m = new WanMessage.RegionSum(v.name, rs.offsetOf(region), length, RegionSum.of(data));
      regionsCompared++;
    } else {
      m = new WanMessage.Region(v.name, rs.offsetOf(region), length, data);
      pacer.countRaw(length);
      sum = false;
      if (data != null) {
        regionsWithData++;
      }
    }
    v.window.sent(new SendWindow.InflightRegion(region, length, sum));
    // Charged at its uncompressed size; the pacer settles with what the socket sent.
    pacer.charge(m instanceof WanMessage.Region r && r.data() != null ? length + 64 : 64);
    ch.writeAndFlush(m, ch.voidPromise());
  }

  /**
   * Agent: reports the regions the standby acknowledged as durable to the source, except compared
   * regions whose data the standby asked for (they stay marked until that data is acknowledged).
   */
  void reportDurable(ResyncSource rs) {
    List<SendWindow.InflightRegion> done = v.window.takeDurableRegions();
    drainRequests(); // after taking the acknowledgements: every request sent before them is seen
    boolean reported = false;
    for (SendWindow.InflightRegion r : done) {
      if (!r.compared() || !wanted.remove(rs.offsetOf(r.region()))) {
        rs.durable(r.region());
        reported = true;
      }
    }
    if (reported) {
      askedForAcks = false;
    }
  }

  private void drainRequests() {
    Long offset;
    while ((offset = requests.poll()) != null) {
      wanted.add(offset);
      toSend.add(offset);
    }
  }
}
