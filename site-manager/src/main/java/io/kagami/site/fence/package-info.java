/**
 * Fencing the old primary before an automatic promotion: {@link io.kagami.site.fence.FenceAgent}
 * runs an external agent with the fence-agents convention ({@code key=value} options on stdin, exit
 * status 0 = fenced) and reports a {@code FenceResult} to the policy. The only place the site
 * manager starts a process on the failover path.
 */
package io.kagami.site.fence;
