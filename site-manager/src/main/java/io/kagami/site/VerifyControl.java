package io.kagami.site;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code POST /verify} ({@code kagami verify --volume V}): starts a verification pass over a
 * primary volume now (see {@link io.kagami.replicator.verify.VerifyPacer#passNow}); the next
 * housekeeping round places its first point. A standby refuses: its primary places the points.
 */
final class VerifyControl {
  private final Peer peer;

  VerifyControl(Peer peer) {
    this.peer = peer;
  }

  Map<String, Object> start(String volume) {
    if (volume == null || volume.isEmpty()) {
      throw new Promotion.RefusedException(
          "name the volume: the body must be JSON like {\"volume\": \"vol0\"}");
    }
    for (VolumeRuntime v : peer.volumes()) {
      if (!v.name().equals(volume)) {
        continue;
      }
      if (!(v instanceof VolumeRuntime.Primary p)) {
        throw new Promotion.RefusedException(
            "volume "
                + volume
                + " is a standby here: start the pass on its primary, which places the"
                + " verification points this site checks (follow them in kagami status)");
      }
      long pass = p.verify().passNow();
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("volume", volume);
      out.put("pass", pass);
      out.put("rateBytesPerSecond", p.verify().passRate());
      return out;
    }
    throw new Promotion.RefusedException("there is no volume " + volume + " on this site");
  }
}
