/**
 * Fencing as the policy sees it: what agent to run and with which options ({@link
 * io.kagami.failover.fence.FenceCommand}, validated once) and what it did ({@link
 * io.kagami.failover.fence.FenceResult}); promotion waits for a success. The process that runs the
 * agent lives in the site manager ({@code io.kagami.site.fence}).
 */
package io.kagami.failover.fence;
