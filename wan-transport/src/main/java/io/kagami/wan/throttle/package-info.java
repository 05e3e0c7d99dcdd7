/**
 * Bandwidth on the WAN link: a {@link io.kagami.wan.throttle.TokenBucket} caps the bytes the
 * shipper puts on the wire, and {@link io.kagami.wan.throttle.RateWindow} measures what it recently
 * sent. Both run on an injected nanosecond clock, so tests drive time by hand.
 */
package io.kagami.wan.throttle;
