package io.kagami.wan.receive;

/**
 * What the standby replicates: resolves a primary's offered volume to the journal that receives
 * it, or refuses. Called on a Netty event loop for every volume of every HELLO, so it must answer
 * from memory and not block.
 */
@FunctionalInterface
public interface ReceiverCatalog {
  /**
   * The sink for {@code volume} of {@code sizeBytes} offered by the primary {@code sourceSiteId}
   * (already authenticated: its certificate's CN). Throws with an operator-readable reason — sent
   * to the primary verbatim in a REFUSE — when the volume is not configured here or does not match.
   */
  ReceiveSink sink(String sourceSiteId, String volume, long sizeBytes) throws LinkRefusedException;
}
