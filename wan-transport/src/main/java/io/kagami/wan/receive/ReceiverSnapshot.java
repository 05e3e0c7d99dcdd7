package io.kagami.wan.receive;

import java.time.Instant;
import java.util.List;

/**
 * The receiver's view at one moment, for status pages and metrics.
 *
 * @param address the address it listens on (actual port)
 * @param peers the primaries connected now (HELLO accepted)
 * @param volumes every volume a primary has offered since start, with its last durable seq
 * @param wireBytesReceived bytes read from sockets (TLS records)
 * @param rawBytesReceived journal entry bytes received in BATCH frames, after decompression
 * @param lastError the last reason a connection was refused or closed, or null
 * @param lastErrorAt when {@code lastError} happened
 */
public record ReceiverSnapshot(
    String address,
    List<Peer> peers,
    List<Volume> volumes,
    long wireBytesReceived,
    long rawBytesReceived,
    String lastError,
    Instant lastErrorAt) {
  public ReceiverSnapshot {
    peers = List.copyOf(peers);
    volumes = List.copyOf(volumes);
  }

  /** A connected primary. */
  public record Peer(String siteId, String remoteAddress, Instant since) {}

  /**
   * One replicated volume.
   *
   * @param connected its primary is connected now
   */
  public record Volume(
      String sourceSiteId, String volume, long lastDurableSeq, boolean connected) {}
}
