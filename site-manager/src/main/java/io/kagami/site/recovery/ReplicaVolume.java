package io.kagami.site.recovery;

import io.kagami.site.config.VolumeConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * One of the site's NBD exports as the planner needs it: its name (what a server's {@code volumes}
 * name), its replication state as {@code kagami status} shows it (e.g. {@code replicating}, {@code
 * disconnected}, {@code inconsistent}) and its size. A consistency group's members are exports of
 * their own, each with the group's state. On an N:1 standby {@code peer} is the primary site the
 * volume is replicated from (a real recovery promotes that peer's volumes); null on a 1:1 site.
 */
public record ReplicaVolume(String name, String state, long sizeBytes, String peer) {

  /** A volume of a 1:1 site (no peer to tell apart). */
  public ReplicaVolume(String name, String state, long sizeBytes) {
    this(name, state, sizeBytes, null);
  }

  /**
   * The exports of {@code volumes}: each plain volume, and each member of a consistency group, with
   * the state {@code stateOf} gives for the volume (or group) it belongs to.
   */
  public static List<ReplicaVolume> exports(
      List<VolumeConfig> volumes, Function<String, String> stateOf) {
    return exports(volumes, stateOf, v -> null);
  }

  /**
   * As {@link #exports(List, Function)}, each with the peer {@code peerOf} gives for the volume (or
   * group) it belongs to (null: none, a 1:1 site).
   */
  public static List<ReplicaVolume> exports(
      List<VolumeConfig> volumes, Function<String, String> stateOf, UnaryOperator<String> peerOf) {
    List<ReplicaVolume> out = new ArrayList<>();
    for (VolumeConfig v : volumes) {
      String state = stateOf.apply(v.name());
      String peer = peerOf.apply(v.name());
      if (v.group()) {
        for (VolumeConfig.Member m : v.members()) {
          out.add(new ReplicaVolume(m.name(), state, m.sizeBytes(), peer));
        }
      } else {
        out.add(new ReplicaVolume(v.name(), state, v.sizeBytes(), peer));
      }
    }
    return out;
  }

  /**
   * True when the volume holds a crash-consistent image a server can boot from: not during a first
   * copy or a resync, whose out-of-order regions would start the guest from a torn disk.
   */
  boolean consistent() {
    return switch (state) {
      case "initial-sync", "resyncing", "inconsistent" -> false;
      default -> true;
    };
  }
}
