/**
 * The standby's apply path: replays journaled entries onto the replica volume strictly in sequence
 * order, so every state the replica passes through is a prefix of the primary's history, and
 * checkpoints the replica so the journal behind it can be trimmed.
 */
package io.kagami.replicator.apply;
