package io.kagami.wan.receive;

/**
 * One volume on one connection: the sink the catalog resolved, the volume's {@link VolumeChain},
 * the highest seq acknowledged on this connection, and the progress of a resync under way.
 *
 * <p>Threads: the connection's event loop only.
 */
final class VolumeLane {
  final VolumeChain chain;
  final ReceiveSink sink;

  /** The primary's name of the volume (what the frames carry). */
  final String volume;

  /** Highest seq acknowledged on this connection; ACKs only ever increase. */
  long acked;

  /** Regions received since the last RESYNC. */
  long regionsReceived;

  /** Of {@link #regionsReceived}, how many a sync-and-acknowledge was asked for. */
  long regionsAckRequested;

  long regionBytesSinceSync;

  /** The seq the resync under way started from: acknowledged once its regions are durable. */
  long resyncBase;

  VolumeLane(VolumeChain chain, ReceiveSink sink) {
    this.chain = chain;
    this.sink = sink;
    this.volume = chain.volume();
  }
}
