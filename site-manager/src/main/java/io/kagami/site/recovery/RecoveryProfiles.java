package io.kagami.site.recovery;

import java.util.List;
import java.util.Map;

/**
 * A site's recovery profiles, as read from its recovery.yaml: the host bridges NICs attach to, by
 * name, and every protected server with the defaults applied. Immutable.
 *
 * @param source the file they were read from (named in every problem)
 * @param networks network name → the DR host's bridge, or {@link #ISOLATED} for a network that
 *     needs no bridge ({@code {isolated: true}}: QEMU user networking restricted to the VM itself)
 */
public record RecoveryProfiles(
    String source, Map<String, String> networks, List<ServerProfile> servers) {
  /** The value of an {@code isolated: true} network in {@link #networks()}: no bridge at all. */
  public static final String ISOLATED = "(isolated)";

  public RecoveryProfiles {
    networks = Map.copyOf(networks);
    servers = List.copyOf(servers);
  }

  /** The bridge of {@code network}, or null when recovery.yaml defines none of that name. */
  public String bridge(String network) {
    return network == null ? null : networks.get(network);
  }
}
