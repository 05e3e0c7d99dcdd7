package io.kagami.replicator.resync;

import io.kagami.journal.JournalStream;
import io.kagami.replicator.lineage.DivergedRange;
import io.kagami.replicator.volume.PrimaryVolume;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A primary volume's unsent history and what happens when it outgrows its capacity.
 *
 * <p>Normally the journal keeps every entry the standby does not hold yet (history), and the link
 * drains it in order. When that history exceeds {@code capacityBytes} the volume
 * <em>overflows</em>: from then on each entry is marked in the {@link DirtyBitmap} (its region
 * changed) and trimmed once the local volume holds it, whether or not it was shipped; payloads are
 * no longer kept. The standby is brought back by a <em>resync</em>: the marked regions are copied
 * from the volume as it is now, after which history shipping continues.
 *
 * <p>The invariant that makes this safe: every entry after the standby's durable point is either
 * retained in the journal or accounted for in the bitmap ({@code markedThrough}); entries are
 * marked, and the bitmap persisted, before they are trimmed.
 *
 * <p>Resync protocol with the shipper: {@link #beginResync()} marks whatever history remains
 * through the journal's end L and returns L, the base: the standby drops what it holds after its
 * durable point and continues at L. The regions read after that (the volume file then holds
 * everything through L) carry state at least as new as L; history from L + 1 is shipped after them
 * and re-applied, so the replica converges, and is consistent once it has applied through the seq
 * {@link #endResync()} returns.
 */
public final class Backlog {
  private static final System.Logger LOG = System.getLogger(Backlog.class.getName());

  /** How long a resync's start waits for the volume file to catch up with the journal. */
  static final Duration VOLUME_FILE_WAIT = Duration.ofSeconds(10);

  private final String volume;
  private final PrimaryVolume device;
  private final JournalStream stream;
  private final DirtyBitmap bitmap;
  private final long capacityBytes;
  private volatile long peerDurable;
  private volatile boolean overflowed;
  private volatile boolean bitmapChanged;
  private volatile boolean compareNext;
  private volatile boolean fullCopy;
  private volatile boolean comparing;

  public Backlog(PrimaryVolume device, DirtyBitmap bitmap, long capacityBytes, long peerDurable) {
    this.volume = device.name();
    this.device = device;
    this.stream = device.stream();
    this.bitmap = bitmap;
    this.capacityBytes = capacityBytes;
    this.peerDurable = peerDurable;
  }

  public DirtyBitmap bitmap() {
    return bitmap;
  }

  public long capacityBytes() {
    return capacityBytes;
  }

  /** The standby holds everything through {@code seq} durably. */
  public void peerDurable(long seq) {
    if (seq > peerDurable) {
      peerDurable = seq;
    }
  }

  /** Unsent history still kept as payloads in the journal. */
  public long historyBytes() {
    return stream.bytesAfter(Math.max(peerDurable, bitmap.markedThrough()));
  }

  /** True while the volume tracks regions instead of keeping history (since the last overflow). */
  public boolean overflowed() {
    return overflowed;
  }

  /** True when the standby can only be brought up to date by copying regions. */
  public boolean needsResync() {
    return overflowed || bitmap.dirtyRegions() > 0;
  }

  /** Switches to region tracking when history exceeds its capacity; returns true if it just did. */
  public boolean checkOverflow() {
    if (!overflowed && historyBytes() > capacityBytes) {
      overflowed = true;
      LOG.log(
          Level.WARNING,
          "volume {0}: ALERT history of {1} bytes exceeds its capacity of {2} bytes: tracking changed regions instead; the standby will be resynchronized",
          volume,
          historyBytes(),
          capacityBytes);
      return true;
    }
    return false;
  }

  /**
   * How far the checkpointer may trim, given the volume file is durable through {@code
   * checkpointSeq}: normally what the standby holds or the bitmap accounts for; when overflowed,
   * everything checkpointed, after marking it.
   */
  public long trimBound(long checkpointSeq) {
    checkOverflow();
    if (overflowed) {
      markThrough(checkpointSeq);
      return checkpointSeq;
    }
    return Math.min(checkpointSeq, Math.max(peerDurable, bitmap.markedThrough()));
  }

  /** Marks the entries after what the standby or the bitmap has, through {@code seq}; persists. */
  private synchronized void markThrough(long seq) {
    long from = Math.max(peerDurable, bitmap.markedThrough()) + 1;
    boolean any = false;
    while (from <= seq) {
      // Only where each entry lands (the header): never its payload.
      List<JournalStream.Extent> extents =
          stream.readExtents(from, (int) Math.min(4096, seq - from + 1));
      if (extents.isEmpty()) {
        break;
      }
      for (JournalStream.Extent e : extents) {
        bitmap.mark(e.offset(), e.length());
        from = e.seq() + 1;
        any = true;
      }
    }
    if (any || seq > bitmap.markedThrough()) {
      bitmap.markedThrough(seq);
      persist();
    }
  }

  /**
   * Starts a resync: marks what history remains, waits (briefly: the journal's completion thread
   * writes the volume right after commit) until the volume file holds everything through the
   * returned base, and leaves overflow mode — history after the base is kept again. Blocks the
   * caller (the shipper's thread) for at most {@link #VOLUME_FILE_WAIT}, on the volume's own
   * completion future, not by polling.
   */
  public long beginResync() {
    long base = stream.lastSeq();
    markThrough(base);
    overflowed = false;
    comparing = compareNext;
    compareNext = false;
    try {
      device.appliedThrough(base).get(VOLUME_FILE_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new IllegalStateException(
          "volume "
              + volume
              + ": the volume file did not reach seq "
              + base
              + " within "
              + VOLUME_FILE_WAIT.toSeconds()
              + " s",
          e);
    } catch (ExecutionException e) {
      throw new IllegalStateException(
          "volume "
              + volume
              + ": the volume file cannot reach seq "
              + base
              + ": "
              + e.getCause().getMessage(),
          e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(
          "volume " + volume + ": interrupted while the volume file caught up with seq " + base, e);
    }
    LOG.log(
        Level.INFO,
        "volume {0}: resync of {1} regions ({2} bytes) begins at seq {3}",
        volume,
        bitmap.dirtyRegions(),
        bitmap.dirtyBytes(),
        base);
    return base;
  }

  /** True while a copy of the whole volume (a new or replaced standby) is due or under way. */
  public boolean fullCopy() {
    if (fullCopy && bitmap.dirtyRegions() == 0 && !overflowed) {
      fullCopy = false;
    }
    return fullCopy;
  }

  /** True when the pass begun last compares checksums first (a full copy). */
  public boolean comparing() {
    return comparing;
  }

  /** The current content of {@code region}; null when it is all zeroes (sent without data). */
  public byte[] readRegion(long region) {
    int length = bitmap.lengthOf(region);
    byte[] data = new byte[length];
    try {
      device.file().read(bitmap.offsetOf(region), ByteBuffer.wrap(data));
    } catch (IOException e) {
      throw new UncheckedIOException(
          "volume "
              + volume
              + ": reading region "
              + region
              + " for resync failed: "
              + e.getMessage(),
          e);
    }
    return isZero(data) ? null : data;
  }

  private static boolean isZero(byte[] data) {
    ByteBuffer b = ByteBuffer.wrap(data);
    while (b.remaining() >= 8) {
      if (b.getLong() != 0) {
        return false;
      }
    }
    while (b.hasRemaining()) {
      if (b.get() != 0) {
        return false;
      }
    }
    return true;
  }

  /** The standby holds {@code region} durably: it no longer needs copying. */
  public void regionDurable(long region) {
    bitmap.clear(region);
    bitmapChanged = true;
  }

  /** Every region was sent; the standby is consistent once it applied through the returned seq. */
  public long endResync() {
    return stream.lastSeq();
  }

  /**
   * The standby resumes after {@code durableSeq}. What it lacks must be in the journal or in the
   * map; if not — it lost history it had acknowledged (replaced, restored), or it is new and the
   * journal no longer starts at the beginning — the whole volume is marked for copying.
   */
  public void standbyResumesAt(long durableSeq) {
    long first = stream.firstSeq();
    boolean lostAcknowledged = durableSeq < peerDurable;
    boolean gap = durableSeq + 1 < first && bitmap.markedThrough() < first - 1;
    if (lostAcknowledged || gap) {
      LOG.log(
          Level.WARNING,
          "volume {0}: the standby holds history only through seq {1} ({2}); copying the whole volume",
          volume,
          Long.toString(durableSeq),
          lostAcknowledged
              ? "it had acknowledged seq " + peerDurable
              : "the journal starts at seq " + first);
      markAll();
    }
  }

  /**
   * A standby that rejoined after a failover (the old primary) resumes after {@code durableSeq} but
   * its replica differs in {@code ranges} (its own writes after the fork, discarded there): those
   * ranges are marked, with every entry this primary kept after {@code durableSeq} (its own changes
   * since the fork), and a resync copies exactly these regions.
   */
  public synchronized void standbyDiverged(long durableSeq, List<DivergedRange> ranges) {
    long bytes = 0;
    for (DivergedRange r : ranges) {
      long end = Math.min(r.end(), bitmap.regions() * bitmap.granularity());
      if (r.offset() < end) {
        bitmap.mark(r.offset(), end - r.offset());
        bytes += end - r.offset();
      }
    }
    if (bitmap.dirtyRegions() == bitmap.regions()) {
      compareNext = true; // the standby holds most of it: compare checksums, send what differs
      fullCopy = true;
    }
    // The standby holds this primary's history through durableSeq except in the marked ranges.
    peerDurable = Math.max(peerDurable, durableSeq);
    markThrough(stream.lastSeq());
    persist();
    LOG.log(
        Level.WARNING,
        "volume {0}: the standby rejoined with {1} bytes of its own writes after the fork discarded; {2} bytes of regions will be copied",
        volume,
        bytes,
        bitmap.dirtyBytes());
  }

  /** Marks the whole volume for copying (a new or replaced standby whose history is gone). */
  public synchronized void markAll() {
    bitmap.markAll();
    bitmap.markedThrough(stream.lastSeq());
    compareNext = true; // the standby may hold much of it already
    fullCopy = true;
    persist();
    LOG.log(
        Level.WARNING,
        "volume {0}: the standby needs a full resynchronization ({1} bytes)",
        volume,
        bitmap.dirtyBytes());
  }

  /** Persists cleared bits (housekeeping); a crash before it only means regions are sent again. */
  public void persistIfChanged() {
    if (bitmapChanged) {
      bitmapChanged = false;
      persist();
    }
  }

  private void persist() {
    try {
      bitmap.persist();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "volume " + volume + ": persisting the dirty bitmap failed: " + e.getMessage(), e);
    }
  }
}
