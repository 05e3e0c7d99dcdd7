/**
 * A volume's line of history across sites: its data generations (a random id per line, the one it
 * grew out of and where that ended), the rule that decides whether a standby may continue a
 * primary's history ({@link io.kagami.replicator.lineage.GenerationCheck}), and what a failback
 * does with an old primary's writes after the fork ({@link
 * io.kagami.replicator.lineage.DivergedHistory}). No networking here: the WAN handshake carries the
 * generations, and the site wires these rules to it.
 */
package io.kagami.replicator.lineage;
