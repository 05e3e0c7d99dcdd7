package io.kagami.site.link;

import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.wan.frame.RegionSum;
import io.kagami.wan.frame.WanMessage;
import io.kagami.site.Generations;
import io.kagami.wan.receive.LinkRefusedException;
import io.kagami.wan.receive.ReceiveSink;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * A standby volume's journal receiving the primary's history; stores are synced before the ack.
 * During a resync, regions go straight into the replica file (which is then not crash-consistent:
 * {@link #consistent()} is false until the applier passes the point the primary names at the end).
 */
public final class JournalReceiveSink implements ReceiveSink {
  /** Durable: the seq through which the replica must be applied to be consistent again. */
  public static final String META_CONSISTENT_AT = "consistentAt";

  private final String volume;
  private final long sizeBytes;
  private final JournalStream stream;
  private final Applier applier;
  private final FileVolume file;
  private final Executor io;
  private final DivergedHistory diverged;
  private volatile long consistentAt;

  public JournalReceiveSink(String volume, long sizeBytes, JournalStream stream, Applier applier, FileVolume file, Executor io) {
    this(volume, sizeBytes, stream, applier, file, io, null);
  }

  /** {@code diverged}: what to do with this site's own writes after a fork (null: refuse such a link). */
  public JournalReceiveSink(String volume, long sizeBytes, JournalStream stream, Applier applier, FileVolume file, Executor io, DivergedHistory diverged) {
    this.diverged = diverged;
    this.volume = volume;
    this.sizeBytes = sizeBytes;
    this.stream = stream;
    this.applier = applier;
    this.file = file;
    this.io = io;
    this.consistentAt = stream.meta(META_CONSISTENT_AT, 0);
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

  @Override
  public CompletableFuture<Resume> resume() {
    // The generation is journal metadata (a RocksDB read): off the event loop.
    return CompletableFuture.supplyAsync(() -> new Resume(stream.lastSeq(), generation(), diverged()), io);
  }

  @Override
  public CompletableFuture<Long> store(List<JournalEntry> entries) {
    return stream.appendReplicated(entries);
  }

  /** The data generation of the history this standby holds (0 when it holds none yet). */
  public long generation() {
    return stream.meta(Generations.META_GENERATION, 0);
  }

  /**
   * Adopts the primary's generation when this standby holds none yet, the same one, or the one
   * the primary's grew out of with nothing past the point where it ended; refuses otherwise. Runs
   * on the sink's I/O thread: a failback writes the diverged history aside first.
   */
  @Override
  public CompletableFuture<Void> acceptGeneration(long primary, long prior, long priorEnd) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    io.execute(
        () -> {
          try {
            check(primary, prior, priorEnd);
            done.complete(null);
          } catch (LinkRefusedException | RuntimeException e) {
            done.completeExceptionally(e);
          }
        });
    return done;
  }

  private void check(long primary, long prior, long priorEnd) throws LinkRefusedException {
    long mine = generation();
    if (primary == 0 || mine == primary) {
      settled();
      return;
    }
    if (mine == 0 || (mine == prior && stream.lastSeq() <= priorEnd)) {
      stream.putMeta(Generations.META_GENERATION, primary);
      settled();
      return;
    }
    if (mine == prior && diverged != null && diverged.consented()) {
      // Failback: this site was the primary the sender replaced, and holds writes after the fork.
      // Inconsistent first (durably), then save them aside and discard them; the primary copies
      // their ranges, with what it changed since, in the resync this WELCOME asks for.
      stream.putMeta(META_CONSISTENT_AT, Long.MAX_VALUE);
      consistentAt = Long.MAX_VALUE;
      diverged.saveAndDiscard(stream, applier, file, priorEnd);
      stream.putMeta(Generations.META_GENERATION, primary);
      settled();
      return;
    }
    throw new LinkRefusedException(
        "volume "
            + volume
            + ": the histories diverged: this standby holds generation "
            + Generations.hex(mine)
            + " through seq "
            + stream.lastSeq()
            + ", the primary ships generation "
            + Generations.hex(primary)
            + (prior == 0 ? "" : " (grown out of " + Generations.hex(prior) + " at seq " + priorEnd + ")")
            + (mine == prior
                ? "; they are never merged: this site holds writes after the fork that a rejoin discards; run `kagami failback` on it to save them aside and rejoin as the standby"
                : "; they are never merged: wipe this standby's journal and volume to take the primary's"));
  }

  private void settled() {
    if (diverged != null) {
      diverged.settled();
    }
  }

  /** Ranges the primary must copy although the history says the replica has them. */
  public List<WanMessage.Range> diverged() {
    return diverged == null ? List.of() : diverged.ranges();
  }

  /** False while a resync is incomplete: the replica mixes old and new regions. */
  public boolean consistent() {
    return applier.appliedSeq() >= consistentAt;
  }

  @Override
  public CompletableFuture<Void> beginResync(long baseSeq) {
    return CompletableFuture.runAsync(
        () -> {
          // Inconsistent from the first region on, durably, before any region is written.
          stream.putMeta(META_CONSISTENT_AT, Long.MAX_VALUE);
          consistentAt = Long.MAX_VALUE;
          applier.rebase(baseSeq);
        },
        io);
  }

  @Override
  public CompletableFuture<Void> storeRegion(long offset, int length, byte[] data) {
    return CompletableFuture.runAsync(
        () -> {
          try {
            if (data == null) {
              file.zero(offset, length);
            } else {
              file.write(offset, ByteBuffer.wrap(data));
            }
          } catch (IOException e) {
            throw new UncheckedIOException("volume " + volume + ": writing a resync region at offset " + offset + " failed: " + e.getMessage(), e);
          }
        },
        io);
  }

  @Override
  public CompletableFuture<Boolean> regionMatches(long offset, int length, byte[] sum) {
    return CompletableFuture.supplyAsync(
        () -> {
          byte[] mine = new byte[length];
          try {
            file.read(offset, ByteBuffer.wrap(mine));
          } catch (IOException e) {
            throw new UncheckedIOException("volume " + volume + ": reading a region at offset " + offset + " to compare failed: " + e.getMessage(), e);
          }
          return RegionSum.matches(mine, sum);
        },
        io);
  }

  @Override
  public CompletableFuture<Void> syncRegions() {
    return CompletableFuture.runAsync(
        () -> {
          try {
            file.force();
          } catch (IOException e) {
            throw new UncheckedIOException("volume " + volume + ": syncing resync regions failed: " + e.getMessage(), e);
          }
        },
        io);
  }

  @Override
  public CompletableFuture<Void> endResync(long consistentAtSeq) {
    return CompletableFuture.runAsync(
        () -> {
          stream.putMeta(META_CONSISTENT_AT, consistentAtSeq);
          consistentAt = consistentAtSeq;
          if (diverged != null) {
            diverged.resolved(); // the resync copied them with everything else
          }
        },
        io);
  }
}
