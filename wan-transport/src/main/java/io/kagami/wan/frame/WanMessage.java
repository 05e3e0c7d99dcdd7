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

  /**
   * One volume a primary offers: its name and size, which the standby must match, and its data
   * generation: a random id that changes whenever a site becomes primary by promotion, with the
   * generation it grew out of and the seq where that one ended (0 when none). A standby holding
   * another line of history than these is refused rather than merged.
   */
  record VolumeOffer(
      String name, long sizeBytes, long generation, long priorGeneration, long priorGenerationEnd) {
    public VolumeOffer {
      Objects.requireNonNull(name, "name");
    }

    /** An offer without generation information (0: accepted by any standby). */
    public VolumeOffer(String name, long sizeBytes) {
      this(name, sizeBytes, 0, 0, 0);
    }
  }

  /** Standby → primary: accepted; where each volume's history resumes. */
  record Welcome(String siteId, List<VolumeResume> volumes) implements WanMessage {
    public Welcome {
      Objects.requireNonNull(siteId, "siteId");
      volumes = List.copyOf(volumes);
    }
  }

  /**
   * The standby holds {@code name} durably through {@code lastDurableSeq}, of data generation
   * {@code generation}; shipping resumes after it.
   */
  record VolumeResume(String name, long lastDurableSeq, long generation, List<Range> diverged) {
    public VolumeResume {
      Objects.requireNonNull(name, "name");
      diverged = List.copyOf(diverged);
    }

    public VolumeResume(String name, long lastDurableSeq, long generation) {
      this(name, lastDurableSeq, generation, List.of());
    }

    public VolumeResume(String name, long lastDurableSeq) {
      this(name, lastDurableSeq, 0);
    }
  }

  /**
   * A byte range of a volume. In a {@link VolumeResume}: the standby's replica differs from the
   * primary's history there for reasons the history cannot show (it rejoined after a failover and
   * its own writes after the fork were discarded), so the primary must copy these ranges.
   */
  record Range(long offset, long length) {
    public Range {
      if (offset < 0 || length <= 0) {
        throw new IllegalArgumentException("range at " + offset + " of " + length + " bytes");
      }
    }

    public long end() {
      return offset + length;
    }
  }

  /**
   * Primary → standby, planned switchover: the primary accepts no more writes, and the standby
   * holds every volume durably through its {@code endSeq}; the standby is to become the primary
   * from exactly there (answered by {@link HandedOver}, or {@link Refuse} with the reason).
   */
  record Handover(List<VolumeEnd> volumes) implements WanMessage {
    public Handover {
      volumes = List.copyOf(volumes);
    }
  }

  /** A volume's last sequence number at a {@link Handover}. */
  record VolumeEnd(String name, long endSeq) {
    public VolumeEnd {
      Objects.requireNonNull(name, "name");
    }
  }

  /**
   * Standby → primary: it recorded itself as the primary; the sender may now become its standby.
   */
  record HandedOver() implements WanMessage {}

  /**
   * Either side: the link is refused or broken, for a reason an operator should read; then close.
   */
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
          throw new IllegalArgumentException(
              "BATCH of volume "
                  + volume
                  + ": seq "
                  + e.seq()
                  + " does not follow "
                  + (expected - 1));
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

  /**
   * Either side, when it has had nothing else to send for a heartbeat interval; a primary also
   * sends one at least every interval while it streams. A primary's lists what each volume's
   * journal holds beyond what the standby acknowledged ({@link VolumeHead}), so a standby that
   * loses the link still knows how far behind it was at its last contact; a standby's is empty.
   */
  record Heartbeat(List<VolumeHead> heads) implements WanMessage {
    public Heartbeat {
      heads = List.copyOf(heads);
    }

    /** A heartbeat that carries no journal heads (a standby's, or a primary without volumes). */
    public Heartbeat() {
      this(List.of());
    }
  }

  /**
   * What a primary's journal of {@code volume} holds, as of sending: its last journaled seq, the
   * bytes of writes journaled beyond what the standby acknowledged, and how long ago the oldest of
   * those was journaled (by the primary's clock: a duration, never compared with the standby's
   * clock). Verification points count in the seq, not in the bytes or the age: they are no loss.
   */
  record VolumeHead(
      String volume, long lastJournaledSeq, long unackedBytes, long oldestUnackedMillis) {
    public VolumeHead {
      Objects.requireNonNull(volume, "volume");
    }
  }

  /**
   * Primary → standby: a resynchronization of {@code volume} begins. The standby applies what it
   * holds, then continues its history at {@code baseSeq} (entries up to it are replaced by the
   * regions that follow) and is inconsistent until {@link ResyncEnd}'s point is applied.
   */
  record Resync(String volume, long baseSeq) implements WanMessage {
    public Resync {
      Objects.requireNonNull(volume, "volume");
    }
  }

  /**
   * Primary → standby: the current content of {@code length} bytes at {@code offset}, to be written
   * to the replica as is ({@code data} null = zeroes).
   */
  record Region(String volume, long offset, int length, byte[] data) implements WanMessage {
    public Region {
      Objects.requireNonNull(volume, "volume");
      if (data != null && data.length != length) {
        throw new IllegalArgumentException("REGION of " + length + " bytes carries " + data.length);
      }
      if (offset < 0 || length < 1) {
        throw new IllegalArgumentException(
            "REGION " + offset + "+" + length + " is empty or negative");
      }
    }
  }

  /** Standby → primary: the first {@code count} regions since the last RESYNC are durable. */
  record RegionsDurable(String volume, long count) implements WanMessage {
    public RegionsDurable {
      Objects.requireNonNull(volume, "volume");
    }
  }

  /**
   * Primary → standby: every region was sent; the replica is consistent again once it has applied
   * history through {@code consistentAtSeq}. History shipping resumes after the RESYNC's base.
   */
  record ResyncEnd(String volume, long consistentAtSeq) implements WanMessage {
    public ResyncEnd {
      Objects.requireNonNull(volume, "volume");
    }
  }

  /**
   * Primary → standby, in a comparing pass: the checksum of a region's current content; the standby
   * answers {@link RegionWanted} when its own copy differs. Counts as a region for REGIONS_DURABLE
   * either way.
   */
  record RegionSum(String volume, long offset, int length, byte[] sum) implements WanMessage {
    public RegionSum {
      Objects.requireNonNull(volume, "volume");
      Objects.requireNonNull(sum, "sum");
      if (sum.length != io.kagami.wan.frame.RegionSum.BYTES) {
        throw new IllegalArgumentException(
            "a region checksum has "
                + io.kagami.wan.frame.RegionSum.BYTES
                + " bytes, not "
                + sum.length);
      }
      if (offset < 0 || length < 1) {
        throw new IllegalArgumentException(
            "REGION_SUM " + offset + "+" + length + " is empty or negative");
      }
    }
  }

  /** Standby → primary: its copy of the region at {@code offset} differs; send the data. */
  record RegionWanted(String volume, long offset) implements WanMessage {
    public RegionWanted {
      Objects.requireNonNull(volume, "volume");
    }
  }
}
