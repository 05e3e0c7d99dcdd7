package io.kagami.wan.frame;

import io.kagami.journal.JournalEntry;
import java.util.List;
import java.util.Objects;

/** The messages of the WAN protocol, decoded; {@link WanCodec} documents their byte layout. */
public sealed interface WanMessage {

  /** Primary → standby, first message: protocol version, who is calling, which volumes it ships. */
  record Hello(int version, String siteId, List<VolumeOffer> volumes) implements WanMessage {
    public Hello {
      Objects.requireNonNull(siteId, "siteId");
      volumes = List.copyOf(volumes);
    }
  }

  /** One volume a primary offers: its name and size, which the standby must match. */
  record VolumeOffer(String name, long sizeBytes) {
    public VolumeOffer {
      Objects.requireNonNull(name, "name");
    }
  }

  /** Standby → primary: accepted; where each volume's history resumes. */
  record Welcome(String siteId, List<VolumeResume> volumes) implements WanMessage {
    public Welcome {
      Objects.requireNonNull(siteId, "siteId");
      volumes = List.copyOf(volumes);
    }
  }

  /** The standby holds {@code name} durably through {@code lastDurableSeq}; shipping resumes after it. */
  record VolumeResume(String name, long lastDurableSeq) {
    public VolumeResume {
      Objects.requireNonNull(name, "name");
    }
  }

  /** Either side: the link is refused or broken, for a reason an operator should read; then close. */
  record Refuse(String reason) implements WanMessage {
    public Refuse {
      Objects.requireNonNull(reason, "reason");
    }
  }

  /**
   * Primary → standby: consecutive entries of one volume's history, at least one. The entries'
   * bytes are the journal's encoded records, carried unchanged.
   */
  record Batch(String volume, List<JournalEntry> entries) implements WanMessage {
    public Batch {
      Objects.requireNonNull(volume, "volume");
      entries = List.copyOf(entries);
      if (entries.isEmpty()) {
        throw new IllegalArgumentException("a BATCH carries at least one entry");
      }
      long expected = entries.get(0).seq();
      for (JournalEntry e : entries) {
        if (e.seq() != expected) {
          throw new IllegalArgumentException("BATCH of volume " + volume + ": seq " + e.seq() + " does not follow " + (expected - 1));
        }
        expected++;
      }
    }

    public long firstSeq() {
      return entries.get(0).seq();
    }

    public long lastSeq() {
      return entries.get(entries.size() - 1).seq();
    }

    /** The entries' size as the journal stores them (sequence number, length, record). */
    public long rawBytes() {
      long n = 0;
      for (JournalEntry e : entries) {
        n += e.wireBytes();
      }
      return n;
    }
  }

  /** Standby → primary: everything of {@code volume} through {@code durableSeq} is durable. */
  record Ack(String volume, long durableSeq) implements WanMessage {
    public Ack {
      Objects.requireNonNull(volume, "volume");
    }
  }

  /** Either side, when it has had nothing else to send for a heartbeat interval. */
  record Heartbeat() implements WanMessage {}
}
