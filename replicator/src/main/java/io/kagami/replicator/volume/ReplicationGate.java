package io.kagami.replicator.volume;

import java.util.concurrent.CompletableFuture;

/**
 * What a journaled change must wait for, beyond the local journal, before the host sees it
 * acknowledged: nothing in async mode; the standby's durable copy in sync mode.
 */
@FunctionalInterface
public interface ReplicationGate {
  /** Async mode: a change is acknowledged once the local journal holds it. */
  ReplicationGate LOCAL = seq -> CompletableFuture.completedFuture(null);

  /** Completes when the change with sequence number {@code seq} may be acknowledged. */
  CompletableFuture<Void> replicated(long seq);
}
