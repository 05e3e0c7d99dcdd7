/**
 * A standby's recent history: the retention window of before-images that lets a replica be seen
 * (drills, on copy-on-write clones) or rolled back (point-in-time promotion) at an earlier sequence
 * number, with a replica write never on disk before its before-image.
 */
package io.kagami.replicator.history;
