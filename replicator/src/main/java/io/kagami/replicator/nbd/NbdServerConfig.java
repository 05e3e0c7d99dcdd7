package io.kagami.replicator.nbd;

/**
 * Settings of an NBD listener.
 *
 * @param host bind address
 * @param port bind port (0 = ephemeral; see {@link NbdServer#port()})
 * @param preferredBlock block size advertised as preferred
 * @param maxPayload largest READ/WRITE accepted (advertised as the maximum block size)
 * @param maxInFlight requests of one connection being served at once; beyond it the connection
 *     is not read until some complete (back-pressure instead of unbounded memory)
 * @param maxOptionBytes largest handshake option accepted
 */
public record NbdServerConfig(String host, int port, int preferredBlock, int maxPayload, int maxInFlight, int maxOptionBytes) {
  public static final int DEFAULT_MAX_PAYLOAD = 32 << 20;

  public NbdServerConfig {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("NBD bind host is missing");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("NBD port " + port + " is out of range");
    }
    if (Integer.bitCount(preferredBlock) != 1 || preferredBlock < 512) {
      throw new IllegalArgumentException("preferred block size " + preferredBlock + " must be a power of two of at least 512");
    }
    if (maxPayload < preferredBlock) {
      throw new IllegalArgumentException("maximum payload " + maxPayload + " must be at least the preferred block size");
    }
    if (maxInFlight < 1 || maxOptionBytes < 1024) {
      throw new IllegalArgumentException("NBD in-flight limit must be at least 1 and option limit at least 1 KiB");
    }
  }

  public static NbdServerConfig listen(String host, int port) {
    return new NbdServerConfig(host, port, 4096, DEFAULT_MAX_PAYLOAD, 256, 64 << 10);
  }
}
