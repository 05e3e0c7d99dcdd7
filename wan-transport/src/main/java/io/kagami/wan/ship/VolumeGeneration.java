package io.kagami.wan.ship;

/**
 * A volume's data generation as the primary offers it in HELLO ({@link
 * io.kagami.wan.frame.WanMessage.VolumeOffer}): its line of history, so a standby can refuse a
 * primary whose history diverged from its own.
 *
 * @param current the random id of the volume's current generation; 0 when unknown
 * @param prior the generation it grew out of (at a promotion); 0 when none
 * @param priorEnd the seq where {@code prior} ended; 0 when none
 */
public record VolumeGeneration(long current, long prior, long priorEnd) {
  /** Nothing known: a volume that never recorded a generation. */
  public static final VolumeGeneration UNKNOWN = new VolumeGeneration(0, 0, 0);
}
