package io.kagami.journal;

import java.util.Objects;

/**
 * A record at its place in a volume's history: the sequence number is the spine of replication
 * (journal key, WAN resume point, apply order). {@code encoded} is {@link JournalRecord#encode()}'s
 * output and is carried as is between journal and WAN.
 */
public record JournalEntry(long seq, byte[] encoded) {
  public JournalEntry {
    Objects.requireNonNull(encoded, "encoded");
    if (seq <= 0) {
      throw new IllegalArgumentException("sequence numbers start at 1, got " + seq);
    }
  }

  public static JournalEntry of(long seq, JournalRecord record) {
    return new JournalEntry(seq, record.encode());
  }

  public JournalRecord record() {
    return JournalRecord.decode(encoded);
  }

  /** Bytes this entry occupies in a batch (sequence number plus encoded record). */
  public int wireBytes() {
    return Long.BYTES + Integer.BYTES + encoded.length;
  }
}
