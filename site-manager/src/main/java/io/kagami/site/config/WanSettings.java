package io.kagami.site.config;

import java.nio.file.Path;

/**
 * The site's end of the WAN link.
 *
 * @param listen where a standby accepts primaries (null on a primary)
 * @param peer where a primary reaches its standby (null on a standby)
 * @param peerSiteId the paired site's id, which must be the CN of its certificate
 * @param peerCertificate PEM of the paired site's certificate: the only one trusted
 * @param certificate this site's certificate PEM; null = generated under the data directory
 * @param privateKey this site's private key PEM; null = generated under the data directory
 * @param bandwidth primary: cap on the link's wire bytes per second outside any schedule window; 0
 *     = unlimited
 * @param bandwidthSchedule primary: time-of-day caps that replace {@code bandwidth} inside their
 *     windows; {@link BandwidthSchedule#NONE} when not configured
 */
public record WanSettings(
    HostPort listen,
    HostPort peer,
    String peerSiteId,
    Path peerCertificate,
    Path certificate,
    Path privateKey,
    long bandwidth,
    BandwidthSchedule bandwidthSchedule) {

  /** Without a bandwidth cap. */
  public WanSettings(
      HostPort listen,
      HostPort peer,
      String peerSiteId,
      Path peerCertificate,
      Path certificate,
      Path privateKey) {
    this(
        listen,
        peer,
        peerSiteId,
        peerCertificate,
        certificate,
        privateKey,
        0,
        BandwidthSchedule.NONE);
  }
}
