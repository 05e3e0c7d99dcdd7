package io.kagami.site.link;

import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalStream;
import io.kagami.wan.receive.ReceiveSink;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** A standby volume's journal receiving the primary's history; stores are synced before the ack. */
public final class JournalReceiveSink implements ReceiveSink {
  private final String volume;
  private final long sizeBytes;
  private final JournalStream stream;

  public JournalReceiveSink(String volume, long sizeBytes, JournalStream stream) {
    this.volume = volume;
    this.sizeBytes = sizeBytes;
    this.stream = stream;
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
  public long lastDurableSeq() {
    return stream.lastSeq();
  }

  @Override
  public CompletableFuture<Long> store(List<JournalEntry> entries) {
    return stream.appendReplicated(entries);
  }
}
