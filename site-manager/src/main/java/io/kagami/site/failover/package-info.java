/**
 * A site's automatic failover, wired: {@link io.kagami.site.failover.FailoverController} assembles
 * the policy driver (the pure {@code FailoverPolicy} behind one lock, deciding on {@code
 * kagami-failover}), the heartbeat sender, the witness lease client, the monitor prober and the
 * action runner ({@code kagami-failover-action}), and the write fence every export sits behind.
 * Nothing on the deciding thread waits for the network or a process; see
 * docs/architecture-failover.md for each class's thread and what it may block on.
 */
package io.kagami.site.failover;
