/**
 * Application monitors as the policy sees them: what to probe ({@link
 * io.kagami.failover.monitor.MonitorConfig}), a probe's outcome ({@link
 * io.kagami.failover.monitor.ProbeResult}), and the rule that N failures in a row of one monitor
 * request failover ({@link io.kagami.failover.monitor.MonitorTracker}). The probes themselves run
 * in the site manager ({@code io.kagami.site.monitor}).
 */
package io.kagami.failover.monitor;
