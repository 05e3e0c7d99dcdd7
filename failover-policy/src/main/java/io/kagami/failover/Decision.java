package io.kagami.failover;

/**
 * What {@link FailoverPolicy#decide()} tells the site to do now. Every decision carries an
 * operator-readable reason (for status, logs and metrics). The caller acts and reports back through
 * the policy's {@code on...} methods; asking again before that returns the same decision.
 *
 * <p>A standby's automatic failover runs {@link RequestPromotion} (claim the lease at the witness)
 * → {@link Fence} (run the fence agent against the old primary) → {@link Promote}.
 */
public sealed interface Decision {
  String reason();

  /** Nothing to do: keep the current role (a primary keeps acknowledging writes). */
  record Stay(String reason) implements Decision {}

  /** Primary: stop acknowledging writes now (lease evidence ran out, deposed, or stepped down). */
  record SelfFence(String reason) implements Decision {}

  /**
   * Primary: an application monitor requests failover. Stop acknowledging writes, release the lease
   * at the witness, then call {@link FailoverPolicy#onSteppedDown()}.
   */
  record StepDown(long term, String reason) implements Decision {}

  /** Standby: the primary is gone; claim the lease at the witness (then {@code onClaimSent}). */
  record RequestPromotion(long knownTerm, String reason) implements Decision {}

  /** Standby holding the granted lease: fence the old primary, then {@code onFenceResult}. */
  record Fence(long term, String reason) implements Decision {}

  /**
   * Standby: lease granted and the old primary fenced: become primary at {@code term}, then {@code
   * onPromoted}.
   */
  record Promote(long term, String reason) implements Decision {}

  /**
   * An automatic failover would happen now but is suppressed (maintenance, planned stop, auto off).
   */
  record Suppressed(String reason) implements Decision {}
}
