/**
 * The WAN transport between a primary site and its standby: journal entries leave the primary's
 * journal through a {@link io.kagami.wan.ship.Shipper} (one per link), travel as {@link
 * io.kagami.wan.frame.WanCodec frames} over mutual TLS 1.3 with pinned certificates ({@link
 * io.kagami.wan.tls}), and enter the standby's journal through a {@link
 * io.kagami.wan.receive.Receiver}, which acknowledges what is durable. Sequence numbers are the
 * spine: every (re)connection resumes right after what the standby holds durably.
 */
package io.kagami.wan;
