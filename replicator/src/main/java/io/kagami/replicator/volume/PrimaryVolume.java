package io.kagami.replicator.volume;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;
import io.kagami.journal.Compression;
import io.kagami.journal.JournalException;
import io.kagami.journal.JournalRecord;
import io.kagami.journal.JournalStream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;

/**
 * The primary's read-write volume: every change is appended to the journal first and written to the
 * local volume file right after its commit, in sequence order, on the journal's after-commit
 * thread. The acknowledgement does not wait for that volume write (the journal already holds the
 * change); a read waits instead until the volume file holds every change committed before the read
 * arrived, so a host always reads what it was told is written.
 *
 * <p>Durability (async mode): a write is acknowledged once it is in the journal's WAL (it survives
 * a crash of the Kagami process); with FUA, and for every write before a FLUSH, once the WAL is
 * synced (it survives power loss). The volume file is made durable later by the {@link
 * Checkpointer}; until then the journal is the durable copy and is replayed on restart.
 *
 * <p>Sync mode adds a {@link ReplicationGate}: the acknowledgement also waits until the standby
 * holds the change durably in its journal.
 *
 * <p>Disk full: when the volume file's filesystem runs out of space the changes are still in the
 * journal (they were acknowledged from there), so the volume is {@link #diskFull() disk-full}, not
 * failed: it refuses new writes with ENOSPC and reads with EIO (it cannot show what the file lacks)
 * and heals itself by replaying the journal after {@link #appliedSeq()} onto the file. A heal is
 * tried on the next request and on every housekeeping round ({@link #heal()}), never in a loop; the
 * first write after space returns waits for it and goes through.
 *
 * <p>One role: the volume file following the journal, on every path by which it can be behind (the
 * after-commit write, a read waiting for it, a heal after disk full) is one ordering rule over one
 * applied point; split apart, each piece would need the others' lock and waiters.
 */
public final class PrimaryVolume extends FileBackedVolume {
  /** Largest range one TRIM/WRITE_ZEROES journal record covers; longer requests are split. */
  static final int MAX_RANGE_RECORD = 1 << 30;

  private final JournalStream stream;

  /** Null when compression is off. */
  private final Compression.Probe compression;

  private final ReplicationGate gate;
  private final AppendTimer appendTimer;
  private final NanoClock clock;
  private volatile long appliedSeq;

  /** Reads waiting for the volume file to catch up, by the seq they need; guarded by itself. */
  private final java.util.PriorityQueue<AppliedWaiter> waiters = new java.util.PriorityQueue<>();

  private volatile boolean anyWaiter;

  /** Set when a volume write failed: the file no longer matches the journal; fail closed. */
  private volatile DeviceException volumeFailure;

  /**
   * Why the volume file stopped taking changes for lack of space, or null: the journal holds every
   * change after {@link #appliedSeq}; {@link #heal()} writes them once there is room.
   */
  private volatile String diskFull;

  /** The heal in progress, or null; guarded by {@link #fileLock}. */
  private CompletableFuture<Boolean> healing;

  /**
   * Serialises writes to the volume file between the after-commit thread and a heal, so a change is
   * written once and in sequence order.
   */
  private final Object fileLock = new Object();

  private final Executor healer;

  private record AppliedWaiter(long seq, CompletableFuture<Void> ready)
      implements Comparable<AppliedWaiter> {
    @Override
    public int compareTo(AppliedWaiter o) {
      return Long.compare(seq, o.seq);
    }
  }

  public PrimaryVolume(
      String name, FileVolume file, JournalStream stream, boolean compress, Executor reads) {
    this(name, file, stream, compress, reads, ReplicationGate.LOCAL, AppendTimer.NONE);
  }

  /**
   * With {@code gate} deciding what an acknowledgement waits for beyond the local journal (sync
   * mode), and {@code appendTimer} told how long each journal append took (see {@link
   * AppendTimer}).
   */
  public PrimaryVolume(
      String name,
      FileVolume file,
      JournalStream stream,
      boolean compress,
      Executor reads,
      ReplicationGate gate,
      AppendTimer appendTimer) {
    this(name, file, stream, compress, reads, gate, appendTimer, SystemTime.NANO);
  }

  /** With {@code clock} timing the journal appends for {@code appendTimer}. */
  public PrimaryVolume(
      String name,
      FileVolume file,
      JournalStream stream,
      boolean compress,
      Executor reads,
      ReplicationGate gate,
      AppendTimer appendTimer,
      NanoClock clock) {
    super(name, file, reads);
    this.healer = reads;
    this.appendTimer = appendTimer;
    this.clock = clock;
    this.stream = stream;
    this.compression = compress ? new Compression.Probe() : null;
    this.gate = gate;
    this.appliedSeq = stream.lastSeq();
  }

  @Override
  public boolean readOnly() {
    return false;
  }

  public JournalStream stream() {
    return stream;
  }

  public FileVolume file() {
    return file;
  }

  /** Highest sequence number whose change is in the volume file (not necessarily synced). */
  public long appliedSeq() {
    return appliedSeq;
  }

  @Override
  public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
    DeviceException failed = volumeFailure;
    if (failed != null) {
      return CompletableFuture.failedFuture(failed);
    }
    if (diskFull != null) {
      return heal()
          .thenCompose(
              healed ->
                  healed
                      ? read(offset, length, alloc)
                      : CompletableFuture.failedFuture(fullError(DeviceError.EIO, "read")));
    }
    // Every acknowledged change has a seq at or below lastSeq(): once the file holds that, the
    // read sees all of them.
    long needed = stream.lastSeq();
    if (appliedSeq >= needed) {
      return readFile(offset, length, alloc);
    }
    return appliedThrough(needed).thenCompose(ignored -> readFile(offset, length, alloc));
  }

  /**
   * Waits up to {@code timeout} until the volume file holds every change committed so far; true
   * when it does. Called before the volume file closes: acknowledged writes may still be queued for
   * it (they are in the journal either way and would be replayed on the next start).
   */
  public boolean awaitVolumeWrites(java.time.Duration timeout) {
    try {
      appliedThrough(stream.lastSeq())
          .get(timeout.toNanos(), java.util.concurrent.TimeUnit.NANOSECONDS);
      return true;
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Completes once the volume file holds every change through {@code seq}, on the thread that wrote
   * it (or the caller's, when it does already); fails when writing the volume file failed.
   */
  public CompletableFuture<Void> appliedThrough(long seq) {
    CompletableFuture<Void> ready = new CompletableFuture<>();
    synchronized (waiters) {
      waiters.add(new AppliedWaiter(seq, ready));
      anyWaiter = true;
    }
    // The volume writer may have passed seq (or failed) before the waiter was queued.
    release(appliedSeq);
    return ready;
  }

  /** After-commit thread: the volume file now holds every change through {@code seq}. */
  private void applied(long seq) {
    appliedSeq = seq;
    if (anyWaiter) {
      release(seq);
    }
  }

  private void release(long seq) {
    DeviceException failed = volumeFailure;
    if (failed == null && diskFull != null) {
      failed = fullError(DeviceError.EIO, "read");
    }
    List<CompletableFuture<Void>> ready = new ArrayList<>();
    synchronized (waiters) {
      while (!waiters.isEmpty() && (failed != null || waiters.peek().seq() <= seq)) {
        ready.add(waiters.poll().ready());
      }
      anyWaiter = !waiters.isEmpty();
    }
    for (CompletableFuture<Void> r : ready) {
      if (failed != null) {
        r.completeExceptionally(failed);
      } else {
        r.complete(null);
      }
    }
  }

  /**
   * Why the volume file takes no changes for lack of space (a passing state: the journal holds them
   * and they are written once there is room), or null.
   */
  public String diskFull() {
    return diskFull;
  }

  /**
   * Writes to the volume file the changes the journal holds beyond it, when it stopped for lack of
   * space; on the read executor, at most one at a time. Completes true once the file has caught up
   * (or had nothing to catch up), false while there is still no room. Called on the next request
   * and by housekeeping: the volume heals within a round of space returning, without a restart.
   */
  public CompletableFuture<Boolean> heal() {
    synchronized (fileLock) {
      if (diskFull == null) {
        return CompletableFuture.completedFuture(volumeFailure == null);
      }
      if (healing == null) {
        CompletableFuture<Boolean> h = new CompletableFuture<>();
        healing = h;
        try {
          healer.execute(() -> h.complete(replayOntoFile()));
        } catch (RuntimeException e) {
          healing = null;
          h.complete(false);
        }
      }
      return healing;
    }
  }

  /** Heal: writes the journal's changes after {@link #appliedSeq} to the file, in order. */
  private boolean replayOntoFile() {
    boolean healed = false;
    try {
      while (true) {
        long from = appliedSeq + 1;
        List<io.kagami.journal.JournalEntry> entries =
            from > stream.lastSeq() ? List.of() : stream.read(from, 8 << 20);
        synchronized (fileLock) {
          if (entries.isEmpty() && appliedSeq >= stream.lastSeq()) {
            // Every committed change is in the file; changes committed from now on are written
            // by the after-commit thread as usual.
            diskFull = null;
            healed = true;
            System.getLogger(PrimaryVolume.class.getName())
                .log(
                    System.Logger.Level.WARNING,
                    "volume {0}: the volume file has room again and holds every change through seq"
                        + " {1}; writes resume",
                    name,
                    appliedSeq);
            return true;
          }
          for (io.kagami.journal.JournalEntry e : entries) {
            if (e.seq() <= appliedSeq) {
              continue;
            }
            file.apply(e.record());
            appliedSeq = e.seq();
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      if (!io.kagami.journal.DiskSpace.isNoSpace(e)) {
        volumeWriteFailed(appliedSeq + 1, e instanceof IOException io ? io : new IOException(e));
      }
      return false;
    } finally {
      synchronized (fileLock) {
        healing = null;
      }
      if (healed) {
        applied(appliedSeq);
      }
      release(appliedSeq);
    }
  }

  /** After-commit thread: writes one committed change to the file, unless it cannot or need not. */
  private void writeToFile(long seq, VolumeWrite write) {
    synchronized (fileLock) {
      if (volumeFailure != null || diskFull != null || seq <= appliedSeq) {
        // Failed: the file is behind the journal and later changes would not help. Full: the
        // heal writes it from the journal. At or below appliedSeq: a heal wrote it already.
        return;
      }
      try {
        write.run();
      } catch (IOException e) {
        if (io.kagami.journal.DiskSpace.isNoSpace(e)) {
          volumeFull(seq, e);
        } else {
          volumeWriteFailed(seq, e);
        }
        return;
      }
      applied(seq);
    }
  }

  private interface VolumeWrite {
    void run() throws IOException;
  }

  /** After-commit thread: the file's filesystem is full; the journal holds the change. */
  private void volumeFull(long seq, IOException e) {
    diskFull =
        "volume "
            + name
            + ": the volume file's filesystem is full at seq "
            + seq
            + " ("
            + e.getMessage()
            + "); every acknowledged write is kept in the journal and written to the file once"
            + " there is room, new writes are refused with ENOSPC until then";
    System.getLogger(PrimaryVolume.class.getName()).log(System.Logger.Level.ERROR, diskFull);
    release(appliedSeq);
  }

  private DeviceException fullError(DeviceError error, String what) {
    String why = diskFull;
    return new DeviceException(
        error, what + " refused: " + (why != null ? why : "volume " + name + ": filesystem full"));
  }

  /** After-commit thread: a volume write failed; the journal still holds the change. */
  private void volumeWriteFailed(long seq, IOException e) {
    if (volumeFailure == null) {
      volumeFailure =
          new DeviceException(
              DeviceError.EIO,
              "volume "
                  + name
                  + ": writing the volume file failed at seq "
                  + seq
                  + " ("
                  + (e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName())
                  + "); the journal holds every acknowledged write and replays it on restart, but the volume serves no more requests until then",
              e);
      System.getLogger(PrimaryVolume.class.getName())
          .log(System.Logger.Level.ERROR, volumeFailure.getMessage());
    }
    release(appliedSeq);
  }

  @Override
  public int writeHeadroom() {
    return JournalRecord.HEADER_BYTES;
  }

  /** Whether {@code data}'s array is the record of this write (see {@link BlockDevice#write}). */
  private static boolean handedOver(ByteBuf data, int length) {
    return data.hasArray()
        && data.arrayOffset() + data.readerIndex() == JournalRecord.HEADER_BYTES
        && data.array().length == JournalRecord.HEADER_BYTES + length;
  }

  @Override
  public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
    int length = data.readableBytes();
    DeviceException failed = volumeFailure;
    if (failed != null) {
      data.release();
      return CompletableFuture.failedFuture(failed);
    }
    if (diskFull != null) {
      // Fail closed while the file cannot follow the journal; the first write after space
      // returns waits for the heal and goes through. The data is kept until then.
      return heal()
          .handle(
              (healed, err) -> {
                if (Boolean.TRUE.equals(healed)) {
                  return write(offset, data, fua);
                }
                data.release();
                return CompletableFuture.<Void>failedFuture(fullError(DeviceError.ENOSPC, "write"));
              })
          .thenCompose(f -> f);
    }
    if (!inRange(file, offset, length)) {
      data.release();
      return CompletableFuture.failedFuture(
          new DeviceException(DeviceError.ENOSPC, outOfRange(file, offset, length).getMessage()));
    }
    // One copy of the data, on the caller's (event loop) thread, straight into the journal
    // record; the network buffer is released at once so the decoder can reuse it.
    byte[] encoded;
    ByteBuffer forVolume;
    try {
      if (handedOver(data, length)) {
        // The NBD decoder's array for this write alone, with room for the header: the record.
        byte[] record = data.array();
        encoded = Compression.encodeWriteInPlace(offset, record, compression);
        forVolume = ByteBuffer.wrap(record, JournalRecord.HEADER_BYTES, length);
      } else if (data.nioBufferCount() == 1) {
        ByteBuffer nio = data.nioBuffer();
        encoded = Compression.encodeWrite(offset, nio, compression);
        if (Compression.storedRaw(encoded)) {
          forVolume = ByteBuffer.wrap(encoded, JournalRecord.HEADER_BYTES, length);
        } else {
          byte[] raw = new byte[length];
          nio.get(raw);
          forVolume = ByteBuffer.wrap(raw);
        }
      } else {
        // Spread over several receive buffers (a large write): copied out of them piece by piece
        // into the record, not merged into one buffer first.
        byte[] record = new byte[JournalRecord.HEADER_BYTES + length];
        data.getBytes(data.readerIndex(), record, JournalRecord.HEADER_BYTES, length);
        encoded = Compression.encodeWriteInPlace(offset, record, compression);
        forVolume = ByteBuffer.wrap(record, JournalRecord.HEADER_BYTES, length);
      }
    } finally {
      data.release();
    }
    long entered = startTimer();
    return stream
        .appendEncoded(encoded, fua, seq -> writeToFile(seq, () -> file.write(offset, forVolume)))
        .thenCompose(
            seq -> {
              stopTimer(entered);
              return gate.replicated(seq);
            })
        .handle(
            (ignored, err) -> {
              if (err != null) {
                throw deviceError("write", err);
              }
              return null;
            });
  }

  /**
   * Places a verification point for {@code mark}'s region in the history (see {@link
   * io.kagami.journal.VerifyPoint}): appends the VERIFY record; when its turn comes on the
   * after-commit thread, the volume file holds exactly the changes before it, so the region's
   * checksum is taken right there, in journal order, and appended as a VERIFY_SUM record. Completes
   * with the sum, or with null when none could be taken (the file failed or is full: the point is
   * then left unchecked). Never blocks: the NBD path is not delayed beyond the checksum's own time
   * on the after-commit thread (about a millisecond per MiB).
   */
  public CompletableFuture<io.kagami.journal.VerifyPoint.Sum> verify(
      io.kagami.journal.VerifyPoint.Mark mark) {
    CompletableFuture<io.kagami.journal.VerifyPoint.Sum> summed = new CompletableFuture<>();
    boolean[] taken = new boolean[1]; // after-commit thread only
    stream
        .append(
            mark.record(),
            false,
            seq -> {
              writeToFile(
                  seq,
                  () -> {
                    taken[0] = true;
                    long value;
                    try {
                      value = checksum.of(file, mark.offset(), mark.length());
                    } catch (IOException e) {
                      // A read that fails leaves this point unchecked; it changes nothing.
                      System.getLogger(PrimaryVolume.class.getName())
                          .log(
                              System.Logger.Level.WARNING,
                              "volume {0}: cannot read region {1}+{2} for verification: {3}",
                              name,
                              mark.offset(),
                              mark.length(),
                              e.getMessage());
                      summed.complete(null);
                      return;
                    }
                    var sum =
                        new io.kagami.journal.VerifyPoint.Sum(
                            mark.offset(), mark.length(), seq, mark.pass(), value);
                    stream
                        .append(sum.record(), false, s -> writeToFile(s, () -> {}))
                        .whenComplete(
                            (s, err) -> {
                              if (err != null) {
                                summed.complete(null);
                              } else {
                                summed.complete(sum);
                              }
                            });
                  });
              if (!taken[0]) {
                summed.complete(null); // not taken: failed, full, or a heal passed it
              }
            })
        .whenComplete(
            (seq, err) -> {
              if (err != null) {
                summed.complete(null);
              }
            });
    return summed;
  }

  /** The verification checksum: used on the after-commit thread only, under {@link #fileLock}. */
  private final io.kagami.replicator.verify.RegionChecksum checksum =
      new io.kagami.replicator.verify.RegionChecksum();

  @Override
  public CompletableFuture<Void> writeZeroes(
      long offset, long length, boolean fua, boolean mayTrim) {
    return zeroRange(offset, length, fua, JournalRecord::writeZeroes);
  }

  @Override
  public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
    return zeroRange(offset, length, fua, JournalRecord::trim);
  }

  private interface RangeRecord {
    JournalRecord of(long offset, int length);
  }

  private CompletableFuture<Void> zeroRange(
      long offset, long length, boolean fua, RangeRecord kind) {
    DeviceException failed = volumeFailure;
    if (failed != null) {
      return CompletableFuture.failedFuture(failed);
    }
    if (diskFull != null) {
      return heal()
          .thenCompose(
              healed ->
                  healed
                      ? zeroRange(offset, length, fua, kind)
                      : CompletableFuture.failedFuture(fullError(DeviceError.ENOSPC, "zeroing")));
    }
    if (!inRange(file, offset, length)) {
      return CompletableFuture.failedFuture(
          new DeviceException(
              DeviceError.ENOSPC,
              "range " + offset + "+" + length + " is beyond the end of volume " + name));
    }
    CompletableFuture<Long> last = CompletableFuture.completedFuture(0L);
    for (long pos = offset; pos < offset + length; pos += MAX_RANGE_RECORD) {
      int n = (int) Math.min(MAX_RANGE_RECORD, offset + length - pos);
      long at = pos;
      long entered = startTimer();
      last = stream.append(kind.of(at, n), fua, seq -> writeToFile(seq, () -> file.zero(at, n)));
      last.thenRun(() -> stopTimer(entered));
    }
    return last.thenCompose(gate::replicated)
        .handle(
            (ignored, err) -> {
              if (err != null) {
                throw deviceError("zeroing", err);
              }
              return null;
            });
  }

  @Override
  public CompletableFuture<Void> flush() {
    // In sync mode everything before the FLUSH must also be on the standby: waiting for the last
    // journaled sequence number covers every write the host saw completed before it.
    return stream
        .sync()
        .thenCompose(gate::replicated)
        .handle(
            (ignored, err) -> {
              if (err != null) {
                throw deviceError("flush", err);
              }
              return null;
            });
  }

  // The append's future completes right after the commit, so that marks the commit's end.
  private long startTimer() {
    return appendTimer == AppendTimer.NONE ? 0 : clock.nanoTime();
  }

  private void stopTimer(long entered) {
    if (appendTimer != AppendTimer.NONE) {
      appendTimer.appended(clock.nanosSince(entered));
    }
  }

  private DeviceException deviceError(String what, Throwable err) {
    Throwable cause =
        err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
    if (cause instanceof DeviceException d) {
      return d;
    }
    if (cause instanceof JournalException j) {
      return new DeviceException(
          j.noSpace() ? DeviceError.ENOSPC : DeviceError.EIO,
          "volume " + name + ": " + what + " not journaled: " + j.getMessage(),
          j);
    }
    String msg = cause.getMessage() == null ? cause.toString() : cause.getMessage();
    boolean noSpace = io.kagami.journal.DiskSpace.isNoSpace(cause);
    return new DeviceException(
        noSpace ? DeviceError.ENOSPC : DeviceError.EIO,
        "volume " + name + ": " + what + " failed: " + msg,
        cause);
  }
}
