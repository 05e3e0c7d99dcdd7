package io.kagami.site.failover;

/** The heartbeat's JSON codec for tests outside this package (the admin fuzz target). */
public final class HeartbeatCodec {
  private HeartbeatCodec() {}

  /** Decodes a heartbeat body and encodes it again, as the peer's answer would be. */
  public static byte[] echo(byte[] body) {
    return HeartbeatMessage.encode(HeartbeatMessage.decode(body));
  }
}
