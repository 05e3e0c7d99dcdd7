package io.kagami.site.witness;

import io.kagami.failover.witness.LeaseReply;
import java.util.concurrent.CompletableFuture;

/**
 * Where a site's primary lease lives: the built-in witness ({@link WitnessClient}, {@code kagami
 * witness}) or an etcd cluster ({@link io.kagami.site.witness.etcd.EtcdWitnessClient}). The
 * failover code asks through this interface only, so its policy does not know which one it has.
 *
 * <p>Every implementation keeps the same promises:
 *
 * <ul>
 *   <li>at most one site holds a group's lease at any instant, and every grant to a site that did
 *       not hold it bumps the term above every term granted before;
 *   <li>a lease granted or renewed by a request that the site sent at its instant {@code t} runs at
 *       least until {@code t + leaseMillis} of the reply (the service starts counting later);
 *   <li>the futures never block the caller; they complete with a {@link LeaseReply} ("refused" is a
 *       normal answer) or exceptionally with an {@link java.io.IOException} when the service could
 *       not be reached or answered badly, within the timeout the implementation was built with.
 * </ul>
 */
public interface LeaseService extends AutoCloseable {
  /** Extends the lease the site holds at {@code term}. */
  CompletableFuture<LeaseReply> renewAsync(String group, String site, long term);

  /** Asks for the lease; {@code knownTerm} is the newest term the site knows of. */
  CompletableFuture<LeaseReply> claimAsync(String group, String site, long knownTerm);

  /** Gives the lease held at {@code term} back at once. */
  CompletableFuture<LeaseReply> releaseAsync(String group, String site, long term);

  /** Where the leases live, for status and messages ({@code 127.0.0.1:7900}, {@code etcd ...}). */
  String describe();

  /** Cancels requests in flight (their futures fail) and releases connections; idempotent. */
  @Override
  void close();
}
