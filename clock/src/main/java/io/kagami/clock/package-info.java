/**
 * Time for every module: a {@link io.kagami.clock.NanoClock} for intervals, {@link
 * java.time.InstantSource} for wall time, and {@link io.kagami.clock.SystemTime}, the one class
 * allowed to read the machine's clocks or park a thread; and {@link
 * io.kagami.clock.KeyedRateLimit}, how often each key may act over that time.
 */
package io.kagami.clock;
