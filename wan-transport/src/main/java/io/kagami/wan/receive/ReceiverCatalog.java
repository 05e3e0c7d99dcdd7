package io.kagami.wan.receive;

import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * What the standby replicates: resolves a primary's offered volume to the journal that receives it,
 * or refuses. Every method is called on the Netty event loop of the primary's connection, which
 * serves other connections too, so none may block: {@link #sink} answers from memory, {@link
 * #handover} does its work on a thread of its own and completes the future, {@link #handedOver}
 * hands its work to such a thread. With several primaries, the catalog is where each peer's volumes
 * are told apart: two peers may both offer a "vol0", and get different sinks.
 */
@FunctionalInterface
public interface ReceiverCatalog {
  /**
   * The sink for {@code volume} of {@code sizeBytes} offered by the primary {@code sourceSiteId}
   * (already authenticated: its certificate's CN). Throws with an operator-readable reason — sent
   * to the primary verbatim in a REFUSE — when the volume is not configured here or does not match.
   */
  ReceiveSink sink(String sourceSiteId, String volume, long sizeBytes) throws LinkRefusedException;

  /**
   * Planned switchover: the primary {@code sourceSiteId} stopped taking writes and every volume it
   * named is durable here through its seq in {@code endSeqs} (everything it sent has settled).
   * Completes once this site recorded itself as the new primary — the old one then becomes its
   * standby — or fails with the reason, sent back in a REFUSE. Called on an event loop: must not
   * block (do the work elsewhere and complete the future).
   */
  default CompletableFuture<Void> handover(String sourceSiteId, Map<String, Long> endSeqs) {
    return CompletableFuture.failedFuture(
        new LinkRefusedException("this standby does not take over in a switchover"));
  }

  /**
   * HANDED_OVER was sent to {@code sourceSiteId} after a {@link #handover}: take over now. Called
   * on the event loop (a write listener): must not block.
   */
  default void handedOver(String sourceSiteId) {}
}
