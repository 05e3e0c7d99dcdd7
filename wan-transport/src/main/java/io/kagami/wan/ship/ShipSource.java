package io.kagami.wan.ship;

import io.kagami.journal.JournalEntry;
import io.kagami.wan.frame.WanMessage;
import java.util.List;

/**
 * The primary's journal of one volume, as the shipper sees it. Implementations may block on disk in
 * {@link #read}; the shipper calls it from its own thread, never an event loop.
 */
public interface ShipSource {

  String volume();

  long sizeBytes();

  /** Highest sequence number journaled so far (0 when empty). */
  long lastSeq();

  /**
   * Entries with {@code seq >= fromSeq}, in sequence order and without gaps, up to about {@code
   * maxBytes} of {@link JournalEntry#wireBytes()} (at least one entry when any exists). Returns an
   * empty list when nothing at or past {@code fromSeq} is journaled yet.
   */
  List<JournalEntry> read(long fromSeq, int maxBytes);

  /** The standby reports everything up to {@code seq} durable in its journal. */
  void peerDurable(long seq);

  /**
   * The standby acknowledged everything through {@code seq}, told at once on the network thread
   * (before {@link #peerDurable}, which runs on the shipper's thread): for sync mode, whose writes
   * wait for it. Must not block.
   */
  default void acknowledged(long seq) {}

  /** Registers a callback run (on the appending thread) whenever new entries are journaled. */
  void onAppend(Runnable wakeup);

  /**
   * What this volume's journal holds beyond what the standby acknowledged, for the heartbeats that
   * let a standby judge its lag after losing the link. Called on the link's event loop: must not
   * block (in-memory figures only). The default knows only the last seq.
   */
  default WanMessage.VolumeHead head() {
    return new WanMessage.VolumeHead(volume(), lastSeq(), 0, 0);
  }

  /**
   * The volume's data generation for the HELLO; {@link VolumeGeneration#UNKNOWN} when none is
   * recorded.
   */
  default VolumeGeneration generation() {
    return VolumeGeneration.UNKNOWN;
  }

  /** Region copying for this volume, or null when it has none (it can only ship history). */
  default ResyncSource resync() {
    return null;
  }
}
