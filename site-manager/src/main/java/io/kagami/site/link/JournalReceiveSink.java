package io.kagami.site.link;

import io.kagami.clock.SystemTime;
import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.apply.ReplicaConsistency;
import io.kagami.replicator.lineage.DivergedHistory;
import io.kagami.replicator.lineage.DivergedRange;
import io.kagami.replicator.lineage.Generation;
import io.kagami.replicator.lineage.HistoriesDivergedException;
import io.kagami.replicator.lineage.StandbyLineage;
import io.kagami.replicator.verify.RepairRequest;
import io.kagami.replicator.verify.ReplicaVerifier;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.wan.frame.RegionSum;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.receive.LinkRefusedException;
import io.kagami.wan.receive.ReceiveSink;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Wires a standby volume to the WAN receiver: stores go to the volume's journal (synced before the
 * ack, by the journal's group-commit thread, handed over from the volume's thread); the generation
 * check and a failback's salvage ({@link StandbyLineage}), the resume point, and resync regions
 * written straight into the replica file ({@link ReplicaConsistency} says when it is consistent
 * again) run on the volume's own thread, {@code kagami-receive-<volume>}, in the order the receiver
 * asks for them.
 *
 * <p>Threads: the {@link ReceiveSink} methods are called on the receiver's event loops and return
 * at once; the disk work runs on {@code kagami-receive-<volume>}, which {@link #start()} starts and
 * {@link #close()} stops (after the work queued, waiting up to 30 s).
 */
public final class JournalReceiveSink implements ReceiveSink, AutoCloseable {
  private static final System.Logger LOG = System.getLogger(JournalReceiveSink.class.getName());
  private static final long CLOSE_WAIT_SECONDS = 30;

  private final String volume;
  private final long sizeBytes;
  private final JournalStream stream;
  private final Applier applier;
  private final FileVolume file;
  private final ReplicaConsistency consistency;
  private final StandbyLineage lineage;
  private final ReplicaVerifier verifier;
  private final RepairRequest repair;
  private ExecutorService io; // guarded by this

  /**
   * The primary's latest journal head and when it arrived (event loop writes, any thread reads).
   */
  private volatile HeadSeen lastHead;

  /** Journal bytes received from the primary so far (storage thread writes, any thread reads). */
  private volatile long receivedBytes;

  /**
   * A primary's journal head as received: this site's clocks and received-byte count at arrival, so
   * what arrived after it can be told from what was still missing.
   */
  public record HeadSeen(
      WanMessage.VolumeHead head,
      long receivedNanos,
      java.time.Instant receivedAt,
      long receivedBytesAtHead) {
    /**
     * Seconds since the head arrived, on the monotonic clock (a wall-clock step cannot shrink it).
     */
    public double secondsSince() {
      return Math.max(0, SystemTime.NANO.nanosSince(receivedNanos)) / 1e9;
    }
  }

  public JournalReceiveSink(
      String volume, long sizeBytes, JournalStream stream, Applier applier, FileVolume file) {
    this(volume, sizeBytes, stream, applier, file, null);
  }

  /**
   * {@code diverged}: what to do with this site's own writes after a fork (null: refuse such a
   * link).
   */
  public JournalReceiveSink(
      String volume,
      long sizeBytes,
      JournalStream stream,
      Applier applier,
      FileVolume file,
      DivergedHistory diverged) {
    this.volume = volume;
    this.sizeBytes = sizeBytes;
    this.stream = stream;
    this.applier = applier;
    this.file = file;
    this.consistency = new ReplicaConsistency(stream, applier);
    this.lineage = new StandbyLineage(volume, stream, applier, file, consistency, diverged);
    this.repair = new RepairRequest(stream, consistency);
    // Points the replica may already be past (replayed after a restart) are not checked.
    this.verifier =
        new ReplicaVerifier(
            volume, stream.lastSeq(), consistency::consistent, SystemTime.WALL, repair::mismatch);
    applier.verifyWith(verifier);
  }

  /** The standby's checks of the primary's verification points. */
  public ReplicaVerifier verifier() {
    return verifier;
  }

  /**
   * The region {@code [from, end)} that verification found differing and awaits its copy, or null.
   */
  public long[] repairPending() {
    return repair.pending();
  }

  @Override
  public void primaryHead(WanMessage.VolumeHead head) {
    lastHead =
        new HeadSeen(head, SystemTime.NANO.nanoTime(), SystemTime.WALL.instant(), receivedBytes);
  }

  /** Journal bytes received from the primary since this site started. */
  public long receivedBytes() {
    return receivedBytes;
  }

  /** The primary's latest journal head of this volume, or null before the first heartbeat. */
  public HeadSeen lastHead() {
    return lastHead;
  }

  /** Starts the volume's storage thread; before the receiver may call. */
  public synchronized void start() {
    if (io != null) {
      throw new IllegalStateException("the receive sink of volume " + volume + " starts once");
    }
    io =
        Executors.newSingleThreadExecutor(
            Thread.ofPlatform().name("kagami-receive-" + volume).daemon(true).factory());
  }

  /** Runs {@code work} on the volume's thread; fails when the sink is not running. */
  private <T> CompletableFuture<T> onIo(Supplier<T> work) {
    ExecutorService e;
    synchronized (this) {
      e = io;
    }
    if (e == null || e.isShutdown()) {
      return CompletableFuture.failedFuture(
          new IllegalStateException("the receive sink of volume " + volume + " is not running"));
    }
    try {
      return CompletableFuture.supplyAsync(work, e);
    } catch (RejectedExecutionException closed) {
      return CompletableFuture.failedFuture(
          new IllegalStateException("the receive sink of volume " + volume + " is closed", closed));
    }
  }

  /** A step on the replica file; an I/O error fails it as "volume V: {@code what} failed: …". */
  private interface FileStep<T> {
    T run() throws IOException;
  }

  private <T> CompletableFuture<T> onFile(Supplier<String> what, FileStep<T> step) {
    return onIo(
        () -> {
          try {
            return step.run();
          } catch (IOException e) {
            throw new UncheckedIOException(
                "volume " + volume + ": " + what.get() + " failed: " + e.getMessage(), e);
          }
        });
  }

  @Override
  public String volume() {
    return volume;
  }

  @Override
  public long sizeBytes() {
    return sizeBytes;
  }

  /** Highest sequence number durable in the standby's journal. */
  public long lastDurableSeq() {
    return stream.lastSeq();
  }

  /**
   * Hands the entries to the journal's group commit from the volume's thread, in call order: the
   * enqueue takes the journal-wide lock, which a rebase or truncation of any volume (a resync, a
   * failback) holds across disk I/O, so no event loop may take it. The store completes when the
   * group commit synced the entries.
   */
  @Override
  public CompletableFuture<Long> store(List<JournalEntry> entries) {
    long bytes = 0;
    for (JournalEntry e : entries) {
      bytes += e.encoded().length;
    }
    long batch = bytes;
    return onIo(() -> {
          if (repair.linkMustBeRenewed()) {
            // Ends this connection (nothing of this batch is stored or acknowledged): the primary
            // reconnects, and the WELCOME asks it to copy the region again.
            long[] r = repair.pending();
            throw new IllegalStateException(
                "volume "
                    + volume
                    + ": verification found bytes "
                    + (r == null ? "?" : r[0] + ".." + (r[1] - 1))
                    + " differing from the primary; renewing the link so that the primary copies"
                    + " them again");
          }
          receivedBytes += batch; // only this volume's storage thread writes it
          return stream.appendReplicated(entries);
        })
        .thenCompose(stored -> stored);
  }

  @Override
  public CompletableFuture<Resume> resume() {
    return onIo(() -> new Resume(stream.lastSeq(), lineage.generation(), diverged()));
  }

  /** The data generation of the history this standby holds (0 when it holds none yet). */
  public long generation() {
    return lineage.generation();
  }

  /**
   * Adopts the primary's generation when this standby holds none yet, the same one, or the one the
   * primary's grew out of with nothing past the point where it ended; on a consented failback,
   * saves this site's writes after the fork aside and discards them first; refuses otherwise with a
   * {@link LinkRefusedException} carrying the reason.
   */
  @Override
  public CompletableFuture<Void> acceptGeneration(long generation, long prior, long priorEnd) {
    return onIo(
        () -> {
          try {
            lineage.accept(new Generation(generation, prior, priorEnd));
            return null;
          } catch (HistoriesDivergedException e) {
            throw new CompletionException(new LinkRefusedException(e.getMessage()));
          }
        });
  }

  /**
   * Ranges the primary must copy although the history says the replica has them: a failback's
   * discarded writes, and regions verification found differing (offered, see {@link
   * RepairRequest}).
   */
  public List<WanMessage.Range> diverged() {
    List<WanMessage.Range> out =
        new java.util.ArrayList<>(
            lineage.diverged().stream().map(JournalReceiveSink::toWire).toList());
    long[] r = repair.offer();
    if (r.length == 2) {
      out.add(new WanMessage.Range(r[0], r[1]));
    }
    return out;
  }

  private static WanMessage.Range toWire(DivergedRange r) {
    return new WanMessage.Range(r.offset(), r.length());
  }

  /** False while a resync is incomplete: the replica mixes old and new regions. */
  public boolean consistent() {
    return consistency.consistent();
  }

  @Override
  public CompletableFuture<Void> beginResync(long baseSeq) {
    return onIo(
        () -> {
          // Inconsistent from the first region on, durably, before any region is written.
          consistency.inconsistentUntilResyncEnds();
          applier.rebase(baseSeq);
          return null;
        });
  }

  @Override
  public CompletableFuture<Void> storeRegion(long offset, int length, byte[] data) {
    return onFile(
        () -> "writing a resync region at offset " + offset,
        () -> {
          if (data == null) {
            file.zero(offset, length);
          } else {
            file.write(offset, ByteBuffer.wrap(data));
          }
          return null;
        });
  }

  @Override
  public CompletableFuture<Boolean> regionMatches(long offset, int length, byte[] sum) {
    return onFile(
        () -> "reading a region at offset " + offset + " to compare",
        () -> {
          byte[] mine = new byte[length];
          file.read(offset, ByteBuffer.wrap(mine));
          return RegionSum.matches(mine, sum);
        });
  }

  @Override
  public CompletableFuture<Void> syncRegions() {
    return onFile(
        () -> "syncing resync regions",
        () -> {
          file.force();
          return null;
        });
  }

  @Override
  public CompletableFuture<Void> endResync(long consistentAtSeq) {
    return onIo(
        () -> {
          consistency.consistentAt(consistentAtSeq);
          lineage.resyncEnded(); // the resync copied the diverged ranges with everything else
          repair.resyncEnded(); // and the regions verification found differing
          return null;
        });
  }

  /** Stops the volume's thread once the work queued is done (at most 30 s); idempotent. */
  @Override
  public void close() {
    close(java.time.Duration.ofSeconds(CLOSE_WAIT_SECONDS));
  }

  /**
   * Stops the volume's thread once the work queued is done, waiting at most {@code patience} (a
   * site's shutdown passes what is left of its budget), then interrupts it. Safe to cut: what the
   * receiver took but did not store was never acknowledged to the primary, which sends it again
   * from the standby's durable point on the next connection. Idempotent.
   */
  public void close(java.time.Duration patience) {
    ExecutorService e;
    synchronized (this) {
      e = io;
    }
    if (e == null || e.isShutdown()) {
      return;
    }
    e.shutdown();
    try {
      if (!e.awaitTermination(patience.toNanos(), TimeUnit.NANOSECONDS)) {
        LOG.log(
            Level.WARNING,
            "volume {0}: storage work of the WAN receiver still running {1} ms after close;"
                + " interrupting it (nothing it held was acknowledged to the primary, which sends"
                + " it again)",
            volume,
            Long.toString(patience.toMillis()));
        e.shutdownNow();
      }
    } catch (InterruptedException ie) {
      e.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }
}
