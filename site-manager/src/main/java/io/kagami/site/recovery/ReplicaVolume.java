package io.kagami.site.recovery;

import io.kagami.site.config.VolumeConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * One of the site's NBD exports as the planner needs it: its name (what a server's {@code volumes}
 * name), its replication state as {@code kagami status} shows it (e.g. {@code replicating}, {@code
 * disconnected}, {@code inconsistent}) and its size. A consistency group's members are exports of
 * their own, each with the group's state.
 */
public record ReplicaVolume(String name, String state, long sizeBytes) {

  /**
   * The exports of {@code volumes}: each plain volume, and each member of a consistency group, with
   * the state {@code stateOf} gives for the volume (or group) it belongs to.
   */
  public static List<ReplicaVolume> exports(
      List<VolumeConfig> volumes, Function<String, String> stateOf) {
    List<ReplicaVolume> out = new ArrayList<>();
    for (VolumeConfig v : volumes) {
      String state = stateOf.apply(v.name());
      if (v.group()) {
        for (VolumeConfig.Member m : v.members()) {
          out.add(new ReplicaVolume(m.name(), state, m.sizeBytes()));
        }
      } else {
        out.add(new ReplicaVolume(v.name(), state, v.sizeBytes()));
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
