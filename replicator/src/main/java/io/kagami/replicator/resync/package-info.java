/**
 * Bitmap resync: the dirty-region bitmap a primary keeps while its standby cannot follow the
 * journal (history overflow, a diverged standby) and the backlog of regions to copy again, so a
 * resync moves only what changed.
 */
package io.kagami.replicator.resync;
