package io.kagami.site;

import java.time.Instant;

/**
 * A point in a replica's retained history to promote to (see {@link Site#promotePeer}): either a
 * sequence number of one volume, or a time (the last write journaled at or before it, per volume).
 *
 * @param volume the volume {@code seq} belongs to (its local name, {@code <peer>.<volume>}); null
 *     with a time, or when the peer has one volume
 * @param seq a sequence number, or null
 * @param at a time, or null
 */
public record RecoveryPoint(String volume, Long seq, Instant at) {
  public RecoveryPoint {
    if ((seq == null) == (at == null)) {
      throw new IllegalArgumentException("a recovery point is a seq or a time, exactly one");
    }
  }

  /** A point from the admin surface's fields; null when neither {@code seq} nor {@code at}. */
  static RecoveryPoint of(String volume, Long seq, Instant at) {
    if (seq != null && at != null) {
      throw new Promotion.RefusedException(
          "a point-in-time promotion takes either a seq or a time, not both");
    }
    return seq == null && at == null ? null : new RecoveryPoint(volume, seq, at);
  }

  /** The last write journaled at or before {@code at}, on every volume. */
  public static RecoveryPoint at(Instant at) {
    return new RecoveryPoint(null, null, at);
  }

  /** Sequence number {@code seq} of {@code volume} (null: the peer's only volume). */
  public static RecoveryPoint seq(String volume, long seq) {
    return new RecoveryPoint(volume, seq, null);
  }
}
