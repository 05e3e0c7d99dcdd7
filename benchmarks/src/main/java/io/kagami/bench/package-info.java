/**
 * Benchmarks and experiments that print a ratio against a baseline measured in the same run; they
 * never assert timings.
 */
package io.kagami.bench;
