package io.kagami.site;

import io.kagami.site.admin.LinkBandwidth;
import io.kagami.site.admin.LinkControl;
import io.kagami.site.link.BandwidthControl;

/**
 * {@code /link} on the admin surface: the bandwidth cap of whichever link the peer runs now (it
 * follows role changes). Refused on a standby, which does not send. Any thread; never blocks.
 */
final class PeerLinkControl implements LinkControl {
  private final Peer peer;

  PeerLinkControl(Peer peer) {
    this.peer = peer;
  }

  private BandwidthControl control() {
    SiteLink current = peer.link();
    BandwidthControl b = current == null ? null : current.bandwidth();
    if (b == null) {
      throw new Promotion.RefusedException(
          "this site is a standby: the WAN bandwidth cap is set on the primary (the sending side)");
    }
    return b;
  }

  @Override
  public LinkBandwidth bandwidth() {
    return control().bandwidth();
  }

  @Override
  public LinkBandwidth override(Long bytesPerSecond) {
    return control().override(bytesPerSecond);
  }
}
