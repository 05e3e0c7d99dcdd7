/**
 * The NBD server hosts attach to: handshake, request decoding, and one session per connection that
 * keeps many requests in flight and replies out of order as the journal makes each one durable. Bad
 * input is refused at the edge with the protocol's own error codes.
 */
package io.kagami.replicator.nbd;
