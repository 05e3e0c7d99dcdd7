/**
 * Volumes as block devices: the primary volume that journals a write before the local file sees it,
 * the replica volume the applier writes, the gate that decides whether a volume accepts writes, and
 * the file-backed devices under them.
 */
package io.kagami.replicator.volume;
