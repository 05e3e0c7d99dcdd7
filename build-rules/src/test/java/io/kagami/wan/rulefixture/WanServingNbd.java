package io.kagami.wan.rulefixture;

import io.kagami.replicator.nbd.NbdServer;

/** Breaks {@code WAN_KNOWS_NO_NBD}: the WAN reaching into the NBD server. */
final class WanServingNbd {
  NbdServer server;
}
