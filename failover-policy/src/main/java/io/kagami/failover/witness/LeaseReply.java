package io.kagami.failover.witness;

/**
 * The witness's answer to renew, claim and release; also its JSON body on the wire.
 *
 * <p>Durations, not instants: the witness's clock means nothing to a site. A site that sent the
 * request at its own time {@code t} may count on the lease until {@code t + leaseMillis} at most
 * (the witness started counting later than {@code t}).
 *
 * @param granted whether the request succeeded
 * @param group the pair / volume-group id
 * @param holder the site holding the lease after the request, or null when nobody does
 * @param term the lease's term (generation) after the request; every grant bumps it
 * @param leaseMillis the lease duration the witness grants
 * @param reason operator-readable: why it was granted or refused
 */
public record LeaseReply(
    boolean granted, String group, String holder, long term, long leaseMillis, String reason) {
  public static LeaseReply granted(
      String group, String holder, long term, long leaseMillis, String reason) {
    return new LeaseReply(true, group, holder, term, leaseMillis, reason);
  }

  public static LeaseReply refused(
      String group, String holder, long term, long leaseMillis, String reason) {
    return new LeaseReply(false, group, holder, term, leaseMillis, reason);
  }
}
