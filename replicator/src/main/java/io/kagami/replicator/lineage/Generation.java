package io.kagami.replicator.lineage;

/**
 * A volume's data generation as a primary offers it in the WAN handshake.
 *
 * @param current the id of the line of history the volume holds (0: unknown, accepted by anyone)
 * @param prior the generation {@code current} grew out of at a promotion (0: none)
 * @param priorEnd the last seq of {@code prior} that {@code current} continues
 */
public record Generation(long current, long prior, long priorEnd) {
  /** No generation information (an old primary, or a test). */
  public static final Generation NONE = new Generation(0, 0, 0);
}
