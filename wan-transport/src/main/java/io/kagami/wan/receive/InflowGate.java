package io.kagami.wan.receive;

import io.netty.channel.ChannelConfig;

/**
 * Back-pressure of one connection, as a value: the bytes received but not yet settled in storage
 * (durable, or failed). Above {@code maxUnsettled} the connection stops being read (the primary's
 * window and TCP then hold it back); below half of it reading resumes. Nothing blocks: the event
 * loop only flips the channel's auto-read.
 *
 * <p>Threads: the connection's event loop only.
 */
final class InflowGate {
  private final ChannelConfig channel;
  private final long maxUnsettled;
  private long unsettled;

  InflowGate(ChannelConfig channel, long maxUnsettled) {
    this.channel = channel;
    this.maxUnsettled = maxUnsettled;
  }

  /** {@code bytes} arrived for storage. */
  void received(long bytes) {
    unsettled += bytes;
    if (unsettled > maxUnsettled && channel.isAutoRead()) {
      channel.setAutoRead(false);
    }
  }

  /** {@code bytes} of {@link #received} settled (stored or failed). */
  void settled(long bytes) {
    unsettled -= bytes;
    if (!channel.isAutoRead() && unsettled <= maxUnsettled / 2) {
      channel.setAutoRead(true);
    }
  }

  /**
   * True while reading is paused for storage to catch up (silence is then ours, not the peer's).
   */
  boolean paused() {
    return !channel.isAutoRead();
  }
}
