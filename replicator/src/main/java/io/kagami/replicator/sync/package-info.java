/**
 * Synchronous replication: a write is acknowledged only once the standby reports it durable in its
 * own journal; when the standby stops answering, the configured policy either keeps writes waiting
 * (fail closed) or degrades to asynchronous and returns to sync by itself once caught up.
 */
package io.kagami.replicator.sync;
