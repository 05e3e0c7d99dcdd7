/**
 * Application monitors probed on the primary: {@link io.kagami.site.monitor.Probe} turns a
 * configured monitor (TCP connect, HTTP GET, PostgreSQL SSLRequest) into one bounded, blocking
 * check whose result, never an exception, feeds the policy's {@code MonitorTracker}.
 */
package io.kagami.site.monitor;
