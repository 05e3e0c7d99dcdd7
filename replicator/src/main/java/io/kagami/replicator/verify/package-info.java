/**
 * Continuous verification of a standby's replica against its primary, in the history's order: the
 * primary's {@link io.kagami.replicator.verify.VerifyPacer} places verification points, the
 * standby's {@link io.kagami.replicator.verify.ReplicaVerifier} checks them (see {@link
 * io.kagami.journal.VerifyPoint}).
 */
package io.kagami.replicator.verify;
