/**
 * The channel pipeline both ends of a WAN link run, built in one place: a byte counter on the raw
 * socket, TLS 1.3, the length-prefixed {@link io.kagami.wan.frame.WanCodec} and idle detection,
 * with the end's own handler last. The shipper (client) and the receiver (server) differ only in
 * that last handler and in which side of the TLS handshake they take, so a change to framing,
 * encryption or liveness cannot reach one end without the other.
 */
package io.kagami.wan.pipeline;
