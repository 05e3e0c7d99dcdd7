/**
 * Helpers for the coverage-guided fuzz targets (Jazzer {@code @FuzzTest}s in the replicator,
 * wan-transport and site-manager tests): the contract every target checks beside "no unexpected
 * exception", that one input never makes the code allocate more than a bound proportional to it.
 */
package io.kagami.testkit.fuzz;
