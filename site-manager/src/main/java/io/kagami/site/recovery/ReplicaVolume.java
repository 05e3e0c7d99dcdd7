package io.kagami.site.recovery;

/**
 * One of the site's volumes as the planner needs it: its name (the NBD export), its replication
 * state as {@code kagami status} shows it (e.g. {@code replicating}, {@code disconnected}, {@code
 * inconsistent}) and its size.
 */
public record ReplicaVolume(String name, String state, long sizeBytes) {

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
