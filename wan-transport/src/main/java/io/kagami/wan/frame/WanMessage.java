package io.kagami.wan.frame;

import io.kagami.journal.JournalEntry;
import java.util.List;

/** The messages of the WAN protocol, decoded; see {@link WanCodec} for their byte layout. */
public sealed interface WanMessage {

  /** Primary → standby, first message: who is calling and which volumes it ships. */
  record Hello(int version, String siteId, List<VolumeOffer> volumes) implements WanMessage {}

  record VolumeOffer(String name, long sizeBytes) {}

  /** Standby → primary: accepted; where each volume's history resumes. */
  record Welcome(String siteId, List<VolumeResume> volumes) implements WanMessage {}

  record VolumeResume(String name, long lastDurableSeq) {}

  /** Either side: the link is refused or broken for a reason an operator should read. */
  record Refuse(String reason) implements WanMessage {}

  /** Primary → standby: consecutive entries of one volume's history. */
  record Batch(String volume, List<JournalEntry> entries) implements WanMessage {
    public long lastSeq() {
      return entries.get(entries.size() - 1).seq();
    }

    public long rawBytes() {
      long n = 0;
      for (JournalEntry e : entries) {
        n += e.wireBytes();
      }
      return n;
    }
  }

  /** Standby → primary: everything of {@code volume} through {@code durableSeq} is durable. */
  record Ack(String volume, long durableSeq) implements WanMessage {}

  /** Either side, when idle: proves the link is alive. */
  record Heartbeat() implements WanMessage {}
}
