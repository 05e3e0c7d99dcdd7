/**
 * JMH micro-benchmarks of the hot paths: the journal's append and group commit, the WAN codec, and
 * the compression probe. Run them with {@code benchmarks/jmh.sh} (see benchmarks/README.md); they
 * measure and print, and assert nothing.
 */
package io.kagami.bench.jmh;
