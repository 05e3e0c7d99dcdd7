package io.kagami.site;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * What a real recovery on an N:1 standby promotes: the recovered servers' volumes ({@code
 * <peer>.<volume>}) grouped by the primary site that owns them, peers in the order of their first
 * volume, each peer once however many servers share it.
 */
final class PeerGroups {
  private PeerGroups() {}

  /**
   * The peers owning {@code volumes} with their volumes, in order; refused (naming the volume) when
   * one belongs to no peer of {@code site}.
   */
  static Map<String, List<String>> of(
      String site, List<String> volumes, Function<String, String> peerOf) {
    Map<String, List<String>> out = new LinkedHashMap<>();
    for (String v : volumes) {
      String p = peerOf.apply(v);
      if (p == null) {
        throw new Promotion.RefusedException(
            "volume "
                + v
                + " is not replicated from any peer of standby "
                + site
                + ": nothing to promote it from (its volumes are named <peer>.<volume>)");
      }
      List<String> mine = out.computeIfAbsent(p, k -> new ArrayList<>());
      if (!mine.contains(v)) {
        mine.add(v);
      }
    }
    return out;
  }
}
