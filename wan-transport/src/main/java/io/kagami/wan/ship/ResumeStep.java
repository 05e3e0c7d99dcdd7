package io.kagami.wan.ship;

import io.kagami.wan.frame.WanMessage;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Applies the standby's WELCOME to every volume of a link: checks that it comes from the pinned
 * standby and names each offered volume exactly once, then restarts each volume's stream right
 * after the standby's durable point, with nothing in flight. A disconnect therefore never restarts
 * a volume from the beginning, and nothing is skipped.
 *
 * <p>It also tells each volume's {@link ResyncSource} where the standby stands (so a new or
 * replaced standby gets the whole volume copied, and one that rejoined after a failover gets its
 * diverged ranges copied), and stalls, with the reason, a volume whose history cannot be shipped:
 * the standby is ahead of this journal, or it needs diverged ranges copied and the volume cannot
 * copy regions. A stalled or diverged volume is never reported durable to its source.
 *
 * <p>Thread: the shipper's agent, once per connection, before anything is shipped on it; the
 * sources' calls may block on disk.
 */
final class ResumeStep {
  private static final System.Logger LOG =
      System.getLogger(Shipper.class.getName()); // the link's log, under the shipper's name

  private final String peer;
  private final List<VolumeStream> volumes;
  private final Map<String, VolumeStream> byName;

  ResumeStep(String peer, List<VolumeStream> volumes, Map<String, VolumeStream> byName) {
    this.peer = peer;
    this.volumes = volumes;
    this.byName = byName;
  }

  /** Throws, changing nothing, when the WELCOME does not fit what was offered. */
  void apply(WanMessage.Welcome w) throws IOException {
    if (!w.siteId().equals(peer)) {
      throw new IOException(
          "the standby calls itself \""
              + w.siteId()
              + "\" but its certificate is for \""
              + peer
              + "\"");
    }
    Map<String, Long> from = new HashMap<>();
    for (WanMessage.VolumeResume r : w.volumes()) {
      if (!byName.containsKey(r.name()) || from.put(r.name(), r.lastDurableSeq()) != null) {
        throw new IOException(
            "WELCOME names volume "
                + r.name()
                + (byName.containsKey(r.name()) ? " twice" : ", which was not offered"));
      }
    }
    for (VolumeStream v : volumes) {
      if (!from.containsKey(v.name)) {
        throw new IOException("WELCOME does not say where volume " + v.name + " resumes");
      }
    }
    for (VolumeStream v : volumes) {
      long seq = from.get(v.name);
      long acked = v.window.acked();
      if (seq < acked) {
        LOG.log(
            Level.WARNING,
            "WAN link to {0}: the standby now holds volume {1} only through seq {2}, having acknowledged seq {3} before: it lost acknowledged history",
            peer,
            v.name,
            Long.toString(seq),
            Long.toString(acked));
      }
      v.resume(seq);
    }
    for (VolumeStream v : volumes) {
      long last = v.source.lastSeq();
      ResyncSource rs = v.source.resync();
      if (rs != null && v.resumedFrom <= last) {
        rs.standbyResumesAt(v.resumedFrom);
      }
      List<WanMessage.Range> diverged = divergedOf(w, v.name);
      if (!diverged.isEmpty()) {
        if (rs == null) {
          v.diverged = true;
          v.stall(
              "the standby discarded its own writes to volume "
                  + v.name
                  + " after the fork and needs regions copied, which this volume cannot do",
              VolumeStream.NO_RETRY);
        } else {
          LOG.log(
              Level.INFO,
              "WAN link to {0}: volume {1}: the standby rejoined after a failover; copying its {2} diverged range(s) with what changed here",
              peer,
              v.name,
              diverged.size());
          rs.standbyDiverged(diverged);
        }
      }
      if (v.resumedFrom > last) {
        v.diverged = true;
        v.stall(
            "the standby holds volume "
                + v.name
                + " through seq "
                + v.resumedFrom
                + " but this primary's journal ends at seq "
                + last
                + ": the sites' histories diverged; not shipping this volume",
            VolumeStream.NO_RETRY);
      }
    }
  }

  private static List<WanMessage.Range> divergedOf(WanMessage.Welcome w, String volume) {
    for (WanMessage.VolumeResume r : w.volumes()) {
      if (r.name().equals(volume)) {
        return r.diverged();
      }
    }
    return List.of();
  }
}
