/**
 * Wiring between a site's journal and its WAN link: the journal offered to the shipper ({@code
 * JournalShipSource}), the standby's storage behind the receiver ({@code JournalReceiveSink}, one
 * storage thread per volume so no event loop waits on disk), and the link's bandwidth cap. The
 * replication rules themselves (generations, divergence) live in the replicator's lineage package.
 */
package io.kagami.site.link;
