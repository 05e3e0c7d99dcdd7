package io.kagami.wan.receive;

/** What the standby replicates: resolves a primary's offered volume to the journal that receives it. */
@FunctionalInterface
public interface ReceiverCatalog {
  /**
   * The sink for {@code volume} offered by {@code sourceSiteId} with {@code sizeBytes}; throws with
   * an operator-readable reason when it is not configured here or does not match.
   */
  ReceiveSink sink(String sourceSiteId, String volume, long sizeBytes) throws LinkRefusedException;
}
