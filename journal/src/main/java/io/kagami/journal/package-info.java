/**
 * The journal: every write a volume accepts, appended in sequence order and made durable by group
 * commit (RocksDB for the index and small records, a segment log for large ones) before anyone
 * acknowledges it; read back in order as streams for shipping, applying and point-in-time views,
 * and trimmed as a range once no reader needs it. Knows nothing of NBD, the WAN or sites.
 */
package io.kagami.journal;
