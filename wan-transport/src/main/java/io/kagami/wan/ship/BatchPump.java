package io.kagami.wan.ship;

import io.kagami.journal.JournalEntry;
import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.tls.Tls;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import java.util.ArrayList;
import java.util.List;

/**
 * Ships a volume's journal history: reads entries after the last one read, groups them into BATCH
 * frames (encoding and LZ4 happen here, on the agent thread, not on the event loop) and writes them
 * while the volume's window, the channel's writability and the bandwidth cap allow.
 *
 * <p>Batching: a volume's entries go out as one BATCH when they reach the batch limit, when more is
 * already journaled than fits, when nothing of the volume is in flight (an idle link gains nothing
 * from waiting), or when the oldest has waited {@code maxBatchDelay}. While capped, a volume sends
 * one batch per turn so volumes take turns and the link is paced smoothly.
 *
 * <p>Guarantees: entries leave in sequence order without gaps; a journal that returns a gap, a
 * trimmed start or an error stalls the volume with the reason ({@link VolumeStream#stall}) rather
 * than shipping around it; a batch that would exceed the maximum frame is never sent.
 *
 * <p>Thread: the shipper's agent only. It blocks only in {@link ShipSource#read} (disk); it never
 * waits for the network: {@code writeAndFlush} queues and {@link Channel#isWritable()} is the
 * back-pressure.
 */
final class BatchPump {
  private final ShipperConfig config;
  private final WirePacer pacer;

  BatchPump(ShipperConfig config, WirePacer pacer) {
    this.config = config;
    this.pacer = pacer;
  }

  /**
   * Sends what the window, writability, batching rules and cap allow for {@code v}; returns frames
   * sent.
   */
  int pump(Channel ch, VolumeStream v, long now) {
    boolean capped = pacer.capped();
    int sent = 0;
    while (ch.isActive()
        && ch.isWritable()
        && v.stalled == null
        && v.window.bytes() < config.windowBytes()
        && !(capped && sent > 0)) {
      if (v.pendingBytes < config.maxBatchBytes() && !read(v, now)) {
        break;
      }
      if (v.pending.isEmpty()) {
        break;
      }
      long linger = lingerNanos(v, now);
      if (linger > 0) {
        v.lingerNanos = linger;
        break;
      }
      if (pacer.mayNotSend()) {
        break; // back-pressure from the cap: the entries stay in the journal as history
      }
      if (send(ch, v)) {
        sent++;
      }
    }
    return sent;
  }

  /** How much longer the pending entries should wait for company; 0 = send now. */
  private long lingerNanos(VolumeStream v, long now) {
    if (v.pendingBytes >= pacer.batchLimit(config.maxBatchBytes())
        || v.source.lastSeq() >= v.readSeq
        || v.window.bytes() == 0) {
      return 0;
    }
    long age = now - v.pendingSinceNanos;
    long left = config.maxBatchDelay().toNanos() - age;
    return age < 0 || left <= 0 ? 0 : left;
  }

  /** Reads the next entries into the pending ones; false when the volume stalled. */
  private boolean read(VolumeStream v, long now) {
    long from = v.readSeq;
    List<JournalEntry> got;
    try {
      // A whole batch's worth even when topping up: what does not fit goes in the next batch.
      got = v.source.read(from, config.maxBatchBytes());
    } catch (RuntimeException e) {
      v.stall(
          "reading volume "
              + v.name
              + " from seq "
              + from
              + " failed: "
              + Tls.explain(e)
              + "; retrying in "
              + config.reconnectMax().toMillis()
              + " ms",
          now + config.reconnectMax().toNanos());
      return false;
    }
    if (got.isEmpty()) {
      return true;
    }
    long expected = from;
    for (JournalEntry e : got) {
      if (e.seq() != expected) {
        v.stall(
            expected == from && e.seq() > from
                ? "the standby needs volume "
                    + v.name
                    + " from seq "
                    + from
                    + ", but the journal's oldest entry is seq "
                    + e.seq()
                    + " (trimmed): the standby must be re-seeded"
                : "the journal of volume "
                    + v.name
                    + " returned seq "
                    + e.seq()
                    + " where seq "
                    + expected
                    + " belongs; not shipping it",
            VolumeStream.NO_RETRY);
        return false;
      }
      expected++;
    }
    if (v.pending.isEmpty()) {
      v.pendingSinceNanos = now;
    }
    for (JournalEntry e : got) {
      v.pending.add(e);
      v.pendingBytes += e.wireBytes();
    }
    v.readSeq = expected;
    return true;
  }

  /** Sends the oldest pending entries, up to the batch limit (at least one entry). */
  private boolean send(Channel ch, VolumeStream v) {
    List<JournalEntry> entries = new ArrayList<>();
    long bytes = 0;
    int limit = pacer.batchLimit(config.maxBatchBytes());
    for (JournalEntry e : v.pending) {
      if (!entries.isEmpty() && bytes + e.wireBytes() > limit) {
        break;
      }
      entries.add(e);
      bytes += e.wireBytes();
    }
    WanMessage.Batch batch = new WanMessage.Batch(v.name, entries);
    ByteBuf frame = WanCodec.encode(ch.alloc(), batch);
    if (frame.readableBytes() - 4 > config.maxFrameBytes()) {
      int size = frame.readableBytes() - 4;
      frame.release();
      v.stall(
          "volume "
              + v.name
              + ": seqs "
              + batch.firstSeq()
              + ".."
              + batch.lastSeq()
              + " encode to "
              + size
              + " bytes, more than the maximum frame of "
              + config.maxFrameBytes(),
          VolumeStream.NO_RETRY);
      return false;
    }
    v.window.sent(new SendWindow.InflightBatch(batch.lastSeq(), bytes));
    v.lastSent = batch.lastSeq();
    pacer.countRaw(bytes);
    v.rawRate.record(bytes);
    pacer.charge(frame.readableBytes());
    for (int i = 0; i < entries.size(); i++) {
      v.pending.poll();
    }
    v.pendingBytes -= bytes;
    ch.writeAndFlush(frame, ch.voidPromise());
    return true;
  }
}
