package io.kagami.wan.receive;

import io.kagami.journal.JournalEntry;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** The standby's journal of one replicated volume, as the receiver sees it. */
public interface ReceiveSink {

  String volume();

  long sizeBytes();

  /** Highest sequence number durable in the standby's journal; the primary resumes after it. */
  long lastDurableSeq();

  /**
   * Makes {@code entries} durable in order. Entries at or below {@link #lastDurableSeq()} are
   * ignored (a resumed stream may repeat some); a gap is an error. Completes with the new last
   * durable sequence number, on a thread that is not the caller's.
   */
  CompletableFuture<Long> store(List<JournalEntry> entries);
}
