/**
 * Prometheus metrics of a site: per-volume and per-link gauges and counters, and the device wrapper
 * that times block I/O.
 */
package io.kagami.site.metrics;
