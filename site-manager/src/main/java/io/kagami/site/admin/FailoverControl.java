package io.kagami.site.admin;

/**
 * The admin surface of a site's failover controller: {@code POST /heartbeat} (the second heartbeat
 * path between the sites) and {@code GET/PUT/DELETE /maintenance}.
 */
public interface FailoverControl {
  /**
   * Records the peer's heartbeat ({@code body}, JSON) and returns this site's own heartbeat (JSON).
   * Throws IllegalArgumentException for a malformed heartbeat or one from a site that is not the
   * peer.
   */
  byte[] heartbeat(byte[] body);

  /** Turns maintenance mode on or off (persisted), or only reports it when {@code on} is null. */
  Object maintenance(Boolean on);
}
