package io.kagami.site.link;

import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalStream;
import io.kagami.wan.ship.ShipSource;
import java.util.List;

/**
 * A primary volume's journal offered to the shipper. Remembers (durably, in the journal's
 * metadata) how far the standby acknowledged, so trimming and status survive a restart.
 */
public final class JournalShipSource implements ShipSource {
  public static final String META_PEER_DURABLE = "peerDurableSeq";

  private final String volume;
  private final long sizeBytes;
  private final JournalStream stream;
  private final java.util.function.LongConsumer onPeerDurable;
  private volatile long peerDurableSeq;
  private long persistedPeerSeq;

  public JournalShipSource(String volume, long sizeBytes, JournalStream stream) {
    this(volume, sizeBytes, stream, seq -> {});
  }

  /** @param onPeerDurable told every advance of the standby's durable point (sync mode's gate) */
  public JournalShipSource(String volume, long sizeBytes, JournalStream stream, java.util.function.LongConsumer onPeerDurable) {
    this.volume = volume;
    this.onPeerDurable = onPeerDurable;
    this.sizeBytes = sizeBytes;
    this.stream = stream;
    this.peerDurableSeq = stream.meta(META_PEER_DURABLE, 0);
    this.persistedPeerSeq = peerDurableSeq;
  }

  @Override
  public String volume() {
    return volume;
  }

  @Override
  public long sizeBytes() {
    return sizeBytes;
  }

  @Override
  public long lastSeq() {
    return stream.lastSeq();
  }

  @Override
  public List<JournalEntry> read(long fromSeq, int maxBytes) {
    return stream.read(fromSeq, maxBytes);
  }

  @Override
  public void peerDurable(long seq) {
    if (seq > peerDurableSeq) {
      peerDurableSeq = seq;
      onPeerDurable.accept(seq);
    }
  }

  @Override
  public void onAppend(Runnable wakeup) {
    stream.onCommit(wakeup);
  }

  /** Highest sequence number the standby holds durably. */
  public long peerDurableSeq() {
    return peerDurableSeq;
  }

  /** Persists the acknowledged point (called from housekeeping, not per acknowledgement). */
  public void persist() {
    long seq = peerDurableSeq;
    if (seq != persistedPeerSeq) {
      stream.putMeta(META_PEER_DURABLE, seq);
      persistedPeerSeq = seq;
    }
  }
}
