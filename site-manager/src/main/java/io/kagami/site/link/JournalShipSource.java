package io.kagami.site.link;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;
import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.lineage.DivergedRange;
import io.kagami.replicator.lineage.Generation;
import io.kagami.replicator.lineage.Generations;
import io.kagami.replicator.resync.Backlog;
import io.kagami.replicator.resync.DirtyBitmap;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.ship.ResyncSource;
import io.kagami.wan.ship.ShipSource;
import io.kagami.wan.ship.VolumeGeneration;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import java.util.concurrent.CompletableFuture;

/**
 * A primary volume's journal offered to the shipper. Remembers (durably, in the journal's metadata)
 * how far the standby acknowledged, so trimming and status survive a restart.
 *
 * <p>The shipper calls it on its own threads; {@link #peerDurableThrough} lets a role change wait
 * for the standby's durable point as a future, completed on the shipper's thread (never blocking
 * it).
 */
public final class JournalShipSource implements ShipSource {
  public static final String META_PEER_DURABLE = "peerDurableSeq";

  private final String volume;
  private final long sizeBytes;
  private final JournalStream stream;
  private final java.util.function.LongConsumer onPeerDurable;
  private final Backlog backlog;
  private final ResyncSource resync;
  private volatile boolean resyncing;
  private volatile long resyncStartNanos;
  private volatile long resyncTotalBytes;
  private volatile long peerDurableSeq;
  private long persistedPeerSeq;
  private final NanoClock nanoClock;

  /** A role change waiting for the standby to hold {@code seq} durably. */
  private record DurableWaiter(long seq, CompletableFuture<Void> done) {}

  /** Guarded by itself; ordered by seq, so an advance completes a prefix. */
  private final PriorityQueue<DurableWaiter> waiters =
      new PriorityQueue<>((a, b) -> Long.compare(a.seq(), b.seq()));

  public JournalShipSource(String volume, long sizeBytes, JournalStream stream) {
    this(volume, sizeBytes, stream, null, seq -> {}, NanoClock.system());
  }

  /**
   * @param backlog overflow and region tracking of the volume; null: history only
   * @param onPeerDurable told every advance of the standby's durable point (sync mode's gate)
   * @param nanoClock times a resync pass for its rate and ETA
   */
  public JournalShipSource(
      String volume,
      long sizeBytes,
      JournalStream stream,
      Backlog backlog,
      java.util.function.LongConsumer onPeerDurable) {
    this(volume, sizeBytes, stream, backlog, onPeerDurable, SystemTime.NANO);
  }

  /** With {@code nanoClock} timing the resync's rate and the waits for the standby. */
  public JournalShipSource(
      String volume,
      long sizeBytes,
      JournalStream stream,
      Backlog backlog,
      java.util.function.LongConsumer onPeerDurable,
      NanoClock nanoClock) {
    this.nanoClock = nanoClock;
    this.volume = volume;
    this.backlog = backlog;
    this.resync = backlog == null ? null : new Resync(backlog.bitmap());
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
      if (backlog != null) {
        backlog.peerDurable(seq);
      }
      onPeerDurable.accept(seq);
      releaseWaiters(seq);
    }
  }

  /**
   * Completes once the standby holds every entry through {@code seq} durably (at once when it does
   * already). The caller bounds the wait; a future it abandons is dropped at the next advance past
   * it.
   */
  public CompletableFuture<Void> peerDurableThrough(long seq) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    synchronized (waiters) {
      waiters.add(new DurableWaiter(seq, done));
    }
    // The standby may have passed seq before the waiter was queued.
    releaseWaiters(peerDurableSeq);
    return done;
  }

  private void releaseWaiters(long durable) {
    List<CompletableFuture<Void>> ready = new ArrayList<>();
    synchronized (waiters) {
      while (!waiters.isEmpty() && waiters.peek().seq() <= durable) {
        ready.add(waiters.poll().done());
      }
    }
    for (CompletableFuture<Void> f : ready) {
      f.complete(null);
    }
  }

  @Override
  public void acknowledged(long seq) {
    onPeerDurable.accept(seq); // sync mode's waiting writes, released without a thread hop
  }

  @Override
  public void onAppend(Runnable wakeup) {
    stream.onCommit(wakeup);
  }

  @Override
  public WanMessage.VolumeHead head() {
    long acked = peerDurableSeq;
    // Writes only: verification points the standby lacks are no loss (see the standby's status).
    // A duration on this site's monotonic clock: the standby never compares it with its own
    // clock, and a step of this site's wall clock does not change it.
    long age = Math.max(0, stream.writeLagAgeMillis(acked));
    return new WanMessage.VolumeHead(volume, stream.lastSeq(), stream.writeBytesAfter(acked), age);
  }

  @Override
  public VolumeGeneration generation() {
    Generation g = Generations.of(stream);
    return new VolumeGeneration(g.current(), g.prior(), g.priorEnd());
  }

  @Override
  public ResyncSource resync() {
    return resync;
  }

  /**
   * Progress of the region copy: null when none is due; otherwise bytes left (not yet durable on
   * the standby) and, while a pass runs, its average rate and the time left at that rate.
   */
  public io.kagami.site.admin.VolumeStatus.Resync resyncProgress() {
    if (backlog == null) {
      return null;
    }
    long left = backlog.bitmap().dirtyBytes();
    boolean running = resyncing;
    if (left == 0 && !running) {
      return null;
    }
    long total = Math.max(resyncTotalBytes, left);
    if (resyncStartNanos == 0) {
      return new io.kagami.site.admin.VolumeStatus.Resync(false, left, left, 0, null);
    }
    double seconds = nanoClock.nanosSince(resyncStartNanos) / 1e9;
    double rate = seconds <= 0 ? 0 : (total - left) / seconds;
    return new io.kagami.site.admin.VolumeStatus.Resync(
        running, total, left, rate, rate > 0 ? left / rate : null);
  }

  /** True between the start of a resync pass and the moment its last region was sent. */
  public boolean resyncing() {
    return resyncing;
  }

  /** Adapts the volume's {@link Backlog} to the shipper. */
  private final class Resync implements ResyncSource {
    private final DirtyBitmap bitmap;

    /** Where the standby said it resumes, at the last WELCOME. */
    private volatile long resumedAt;

    Resync(DirtyBitmap bitmap) {
      this.bitmap = bitmap;
    }

    @Override
    public boolean needed() {
      return backlog.needsResync();
    }

    @Override
    public void standbyResumesAt(long durableSeq) {
      backlog.standbyResumesAt(durableSeq);
      resumedAt = durableSeq;
    }

    @Override
    public void standbyDiverged(List<WanMessage.Range> ranges) {
      backlog.standbyDiverged(
          resumedAt, ranges.stream().map(r -> new DivergedRange(r.offset(), r.length())).toList());
    }

    @Override
    public long begin() {
      long base = backlog.beginResync();
      resyncTotalBytes = bitmap.dirtyBytes();
      resyncStartNanos = nanoClock.nanoTime();
      resyncing = true;
      return base;
    }

    @Override
    public boolean comparing() {
      return backlog.comparing();
    }

    @Override
    public long nextDirty(long from) {
      return bitmap.nextDirty(from);
    }

    @Override
    public long offsetOf(long region) {
      return bitmap.offsetOf(region);
    }

    @Override
    public long regionAt(long offset) {
      return offset / bitmap.granularity();
    }

    @Override
    public int lengthOf(long region) {
      return bitmap.lengthOf(region);
    }

    @Override
    public byte[] read(long region) {
      return backlog.readRegion(region);
    }

    @Override
    public void durable(long region) {
      backlog.regionDurable(region);
    }

    @Override
    public long end() {
      resyncing = false;
      return backlog.endResync();
    }
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
