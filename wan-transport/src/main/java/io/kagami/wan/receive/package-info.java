/**
 * The standby's end of the WAN link: a {@link io.kagami.wan.receive.Receiver} listens for paired
 * primaries and runs one session per connection, split by role — admitting the primary, storing its
 * batches with back-pressure, taking resyncs and switchovers — and stores what they ship through
 * each volume's {@link io.kagami.wan.receive.ReceiveSink}. Event loops never wait on storage: the
 * sinks answer with futures and work on threads of their own. Peers (primary sites) are routed
 * apart, so one peer's trouble never stalls another's volumes.
 */
package io.kagami.wan.receive;
