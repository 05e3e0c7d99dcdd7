package io.kagami.site.recovery.run;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * What {@code kagami recover} asks for: which servers (empty: all of recovery.yaml), the point (a
 * journal sequence number of the first server's boot volume, a time, or neither: the newest each
 * replica holds when the run starts), a drill or a real recovery, QEMU or libvirt, and how long a
 * drill may run before it is stopped automatically.
 */
public record RecoveryRequest(
    List<String> servers, Long seq, Instant at, boolean drill, boolean libvirt, Duration ttl) {

  /** A drill's time-to-live unless the request or the site names another. */
  public static final Duration DEFAULT_TTL = Duration.ofHours(4);

  public RecoveryRequest {
    servers = List.copyOf(servers);
    if (seq != null && at != null) {
      throw new IllegalArgumentException("give a seq or a time, not both");
    }
  }

  /** True when every server of recovery.yaml is to be recovered. */
  public boolean all() {
    return servers.isEmpty();
  }
}
