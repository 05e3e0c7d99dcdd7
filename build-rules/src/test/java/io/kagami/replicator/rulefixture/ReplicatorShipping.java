package io.kagami.replicator.rulefixture;

import io.kagami.wan.frame.WanMessage;

/** Breaks {@code REPLICATOR_KNOWS_NO_WAN}: block I/O speaking the WAN protocol itself. */
final class ReplicatorShipping {
  WanMessage message;
}
