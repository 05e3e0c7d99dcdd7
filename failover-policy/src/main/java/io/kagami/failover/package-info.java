/**
 * The failover decision core: {@link io.kagami.failover.FailoverPolicy} takes observations
 * (heartbeats, lease answers, probe results, fence results) and a clock and returns a {@link
 * io.kagami.failover.Decision}; {@link io.kagami.failover.FailoverConfig} holds its settings,
 * validated once against the timing rule that keeps two sites from writing at once. Pure: no I/O
 * and no threads, so every rule can be replayed by a test with a fake clock.
 */
package io.kagami.failover;
