package io.kagami.journal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.zip.CRC32C;

/**
 * Large records of one stream, kept in append-only segment files beside RocksDB; RocksDB stores a
 * small pointer under the record's sequence number instead of the payload.
 *
 * <p>Why: a 1 MiB write stored in RocksDB is copied into the WAL (with a software checksum), into
 * the memtable, and again into a blob file when the memtable flushes, although the journal is a
 * queue whose entries are normally trimmed seconds later. In a segment the payload is written once
 * (a {@code pwrite} into the page cache, or past it for large records of synced groups, see {@link
 * #DIRECT_RECORD_BYTES}); a segment whose entries are all trimmed is deleted, and a file deleted
 * before writeback never costs a disk write.
 *
 * <p>Durability: a synced group commit forces every segment written since the previous force while
 * it syncs the WAL that holds the pointers (two syncs at once, not one after the other: that
 * doubled the standby's commit latency), and completes only when both are done; the highest seq
 * whose data is forced is recorded afterwards. So after a power loss a pointer above that point may
 * name data that never reached the disk (its group was never acknowledged, or it was an unsynced
 * write): on open every such pointer is checked against its CRC32C and history is cut at the first
 * bad one (see {@link JournalStream}).
 *
 * <p>Trimmed segments are deleted, not reused: a file deleted before writeback never costs a disk
 * write, while a reused one keeps its dirty pages, which are then written back (measured: reuse
 * saved no CPU, and cost disk bandwidth once history piled up).
 *
 * <p>RocksDB stores a {@link SegmentFilePointer} (its layout is documented there) in place of each
 * record kept here; each file is a {@link SegmentFileFile}.
 *
 * <p>Threads: {@link #store} and {@link #force} run on the journal's writer thread; {@link #load}
 * (readers that fell behind the in-memory tail) and {@link #trimThrough} may run on any thread.
 */
final class SegmentLog implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(SegmentLog.class.getName());

  /**
   * Records at least this large go to a segment; smaller ones stay inline in RocksDB. 4 KiB: an
   * uncompressed 4 KiB write stored in RocksDB cost ~25 us of CPU (WAL copy with a software CRC,
   * memtable, flush, compaction of entries already trimmed); in a segment it is one copy into the
   * group's write buffer. The same for synced records (the standby's, FUA writes): their segment is
   * forced alongside the WAL sync, not before it.
   */
  static final int MIN_SEGMENT_RECORD_BYTES = 4 << 10;

  /** Records of one group commit are gathered up to this size and written with one pwrite. */
  private static final int COALESCE_BYTES = 1 << 20;

  /**
   * Records larger than this, in a group that will be forced (the standby's, FUA writes), bypass
   * the page cache: O_DIRECT, where the filesystem allows it, several writes at once.
   *
   * <p>Why only forced groups: their bytes go to the disk within the group anyway, so a direct
   * write costs no extra disk bandwidth and saves the copy into freshly allocated page-cache pages
   * (on the standby at 1 MiB writes: its journal thread went from ~2.5 s to under 0.6 s of CPU per
   * 15 s), and the force that follows has no dirty pages left to write. The primary's ordinary
   * writes stay buffered: a segment trimmed before writeback then never reaches the disk at all;
   * written directly, every byte did, and with both sites on one disk the journals became
   * disk-bound (~1.1 GB/s of writes; 1 MiB writes ran at 280–360 MiB/s instead of 470–580).
   */
  static final int DIRECT_RECORD_BYTES = 256 << 10;

  /**
   * Direct writes of one log in flight at most; more wait for the oldest (bounds the memory held).
   */
  private static final int MAX_DIRECT_IN_FLIGHT = 16;

  /** Each direct writer's aligned copy of the record it writes (O_DIRECT cannot use the heap). */
  private static final ThreadLocal<MemorySegment> DIRECT_BUFFER = new ThreadLocal<>();

  private static final String SUFFIX = ".seg";

  private final Path directory;
  private final long segmentBytes;

  /** Live segments by id; guarded by {@code this}. */
  private final TreeMap<Long, SegmentFile> segments = new TreeMap<>();

  /** The segment being appended to, or null before the first large record since open. */
  private SegmentFile current;

  /** Rolled segments with unforced writes; guarded by {@code this}. */
  private final List<FileChannel> pendingForce = new ArrayList<>();

  private boolean dirty;
  private boolean directoryDirty;

  /** Stored records not yet written to {@link #coalescingTo}; journal thread only. */
  private ByteBuffer coalesced;

  private SegmentFile coalescingTo;
  private long coalescingAt;
  private long lastStoredSeq;

  /** Whether new segments get an O_DIRECT descriptor; journal thread only. */
  private boolean directWrites;

  /** Direct writes started and not yet waited for; journal thread only. */
  private final List<DirectWrite> directPending = new ArrayList<>();

  private final ExecutorService directWriters;

  private record DirectWrite(
      SegmentFile segment, long offset, byte[] record, Future<Boolean> done) {}

  /**
   * @param directWriters runs the writes that bypass the page cache, several at once; null to write
   *     every record through the page cache
   */
  SegmentLog(Path directory, long segmentBytes, ExecutorService directWriters) {
    this.directory = directory;
    this.segmentBytes = segmentBytes;
    this.directWriters = directWriters;
    this.directWrites = directWriters != null;
    try {
      Files.createDirectories(directory);
      try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, "*" + SUFFIX)) {
        for (Path p : files) {
          String name = p.getFileName().toString();
          long id;
          try {
            id = Long.parseLong(name.substring(0, name.length() - SUFFIX.length()));
          } catch (NumberFormatException e) {
            LOG.log(Level.WARNING, "ignoring unexpected file {0} among journal segments", p);
            continue;
          }
          SegmentFile s = new SegmentFile(id, p);
          s.size = Files.size(p);
          segments.put(id, s);
        }
      }
    } catch (IOException e) {
      throw new JournalException(
          "cannot open journal segments in " + directory + ": " + e.getMessage(),
          e,
          Journal.isNoSpace(e));
    }
  }

  /**
   * Journal thread: writes {@code record} (entry {@code seq}) to the current segment when it is
   * large enough and returns the pointer RocksDB should store; returns {@code record} itself
   * otherwise. {@code forced}: the record's group will force the segment before it completes (then
   * a large record bypasses the page cache, see {@link #DIRECT_RECORD_BYTES}).
   */
  byte[] store(long seq, byte[] record, boolean forced) throws IOException {
    if (record.length < MIN_SEGMENT_RECORD_BYTES) {
      return record;
    }
    SegmentFile s;
    synchronized (this) {
      if (current == null || (current.size > 0 && current.size + record.length > segmentBytes)) {
        long id = segments.isEmpty() ? 1 : segments.lastKey() + 1;
        SegmentFile next =
            new SegmentFile(id, directory.resolve(String.format("%020d", id) + SUFFIX));
        next.create(directWrites);
        directWrites =
            directWrites && next.directFd >= 0; // e.g. tmpfs refuses O_DIRECT: stop trying
        segments.put(id, next);
        if (current != null && current.channel != null && dirty) {
          // The rolled segment's unforced tail is forced with the next sync like the new one.
          pendingForce.add(current.channel);
        }
        current = next;
        directoryDirty = true;
      }
      s = current;
    }
    boolean direct =
        forced && directWrites && record.length > DIRECT_RECORD_BYTES && s.directFd >= 0;
    long offset = direct ? alignUp(s.size) : s.size;
    coalesce(s, offset, record, direct);
    CRC32C crc = new CRC32C();
    crc.update(record);
    synchronized (this) {
      // After a direct record the file ends on an aligned boundary (zero padding), so no later
      // buffered write shares a page with it.
      s.size = direct ? alignUp(offset + record.length) : offset + record.length;
      s.lastSeq = seq;
    }
    dirty = true;
    lastStoredSeq = seq;
    return new SegmentPointer(s.id, offset, record.length, (int) crc.getValue()).encode();
  }

  /**
   * Adds {@code record} (at {@code offset} of {@code s}) to the records waiting for one write, or
   * writes it at once when it is large. The group commit calls {@link #writeStored} before its
   * RocksDB write, so a pointer never reaches RocksDB before its data reaches the file.
   */
  private void coalesce(SegmentFile s, long offset, byte[] record, boolean direct)
      throws IOException {
    if (direct) {
      writeDirect(s, offset, record);
      return;
    }
    if (coalescingTo != null
        && (coalescingTo != s
            || coalescingAt + coalesced.position() != offset
            || coalesced.remaining() < record.length)) {
      // Gathered records are written as one run: a record that does not extend it (another
      // segment, or after a direct record's range) starts a new one.
      writeStored();
    }
    if (record.length > COALESCE_BYTES / 2) {
      s.writeThroughPageCache(offset, record);
      return;
    }
    if (coalesced == null) {
      coalesced = ByteBuffer.allocateDirect(COALESCE_BYTES);
    }
    if (coalescingTo == null) {
      coalescingTo = s;
      coalescingAt = offset;
    }
    coalesced.put(record);
  }

  /**
   * Starts writing {@code record} at the aligned {@code offset} through the segment's O_DIRECT
   * descriptor, zero-padded to the alignment, on one of the direct writers; {@link #writeStored}
   * waits for it. A direct write waits for the device, so several run at once: one after another, 1
   * MiB records were written at ~350 MiB/s while the device took 1.5 GB/s.
   */
  private void writeDirect(SegmentFile s, long offset, byte[] record) throws IOException {
    if (directPending.size() >= MAX_DIRECT_IN_FLIGHT) {
      awaitDirect();
    }
    int fd = s.directFd;
    Future<Boolean> done = directWriters.submit(() -> writeDirectNow(fd, offset, record));
    directPending.add(new DirectWrite(s, offset, record, done));
  }

  /**
   * On a direct writer: copies {@code record} into aligned memory and writes it; false on failure.
   */
  private static boolean writeDirectNow(int fd, long offset, byte[] record) {
    long padded = alignUp(record.length);
    MemorySegment buffer = DIRECT_BUFFER.get();
    if (buffer == null || buffer.byteSize() < padded) {
      buffer =
          Arena.ofAuto().allocate(Math.max(padded, COALESCE_BYTES), NativeFiles.DIRECT_ALIGNMENT);
      DIRECT_BUFFER.set(buffer);
    }
    MemorySegment.copy(record, 0, buffer, ValueLayout.JAVA_BYTE, 0, record.length);
    buffer.asSlice(record.length, padded - record.length).fill((byte) 0);
    return NativeFiles.pwriteFully(fd, buffer.asSlice(0, padded), offset);
  }

  /**
   * Journal thread: waits for every direct write started; one that failed is written again through
   * the page cache (which reports a real error, such as a full disk), and this log writes through
   * the page cache from then on.
   */
  private void awaitDirect() throws IOException {
    IOException failed = null;
    for (DirectWrite w : directPending) {
      boolean ok;
      try {
        ok = Uninterruptibly.get(w.done);
      } catch (ExecutionException e) {
        ok = false;
      }
      if (ok) {
        continue;
      }
      if (directWrites) {
        LOG.log(
            Level.WARNING,
            "journal segment {0}: a write bypassing the page cache failed; writing through it from now on",
            w.segment.path);
        directWrites = false;
      }
      if (failed == null) {
        try {
          w.segment.writeThroughPageCache(w.offset, w.record);
        } catch (IOException e) {
          failed = e; // the rest are waited for all the same: none may run on after a failure
        }
      }
    }
    directPending.clear();
    if (failed != null) {
      throw failed;
    }
  }

  private static long alignUp(long n) {
    long a = NativeFiles.DIRECT_ALIGNMENT;
    return (n + a - 1) / a * a;
  }

  /**
   * Journal thread: writes the records {@link #store} gathered (one pwrite) and waits for the
   * direct writes it started; a no-op if none.
   */
  void writeStored() throws IOException {
    if (!directPending.isEmpty()) {
      awaitDirect();
    }
    if (coalescingTo == null) {
      return;
    }
    coalesced.flip();
    try {
      SegmentFile.writeFully(coalescingTo.channel, coalesced, coalescingAt);
    } finally {
      coalesced.clear();
      coalescingTo = null;
    }
  }

  /** True when records were stored since the last {@link #force}. */
  boolean dirty() {
    return dirty;
  }

  /**
   * Journal thread: makes every stored record durable; returns the highest sequence number stored
   * so far (all of it is now on disk).
   */
  long force() throws IOException {
    writeStored();
    List<FileChannel> rolled;
    SegmentFile s;
    synchronized (this) {
      rolled = List.copyOf(pendingForce);
      pendingForce.clear();
      s = current;
    }
    for (FileChannel c : rolled) {
      try {
        c.force(false);
      } catch (ClosedChannelException e) {
        // Trimmed meanwhile (a rolled segment, never the current one): nobody needs its records.
      }
    }
    if (s != null && s.channel != null) {
      s.channel.force(false);
    }
    if (directoryDirty) {
      // A new segment's directory entry must be durable too, or the file vanishes on a crash.
      DurableFiles.syncDirectory(directory);
      directoryDirty = false;
    }
    dirty = false;
    return lastStoredSeq;
  }

  /**
   * The first {@code length} bytes of the record {@code pointer} names (its header), without
   * reading the rest: no checksum can be verified on a part, so this is for what the journal wrote
   * itself or checked on open (see {@link JournalStream#readExtents}).
   */
  byte[] loadPrefix(byte[] pointer, long seq, int length) {
    SegmentPointer p = SegmentPointer.decode(pointer);
    byte[] out = new byte[Math.min(length, p.length())];
    readAt(p, seq, out);
    return out;
  }

  /** Reads the record {@code pointer} names and checks its CRC32C. */
  byte[] load(byte[] pointer, long seq) {
    SegmentPointer p = SegmentPointer.decode(pointer);
    byte[] out = new byte[p.length()];
    readAt(p, seq, out);
    CRC32C crc = new CRC32C();
    crc.update(out);
    if ((int) crc.getValue() != p.crc()) {
      throw new JournalException(
          "journal segment " + p.segment() + ": checksum mismatch for seq " + seq);
    }
    return out;
  }

  /** Fills {@code out} from the start of the record {@code p} (entry {@code seq}) names. */
  private synchronized void readAt(SegmentPointer p, long seq, byte[] out) {
    SegmentFile s = segments.get(p.segment());
    if (s == null) {
      throw new JournalException(
          "journal segment " + p.segment() + " of seq " + seq + " is missing in " + directory);
    }
    s.read(p, seq, out);
  }

  /**
   * Open-time check of one pointer: with {@code verifyData} the record is read and its checksum
   * compared (entries that were never forced); otherwise only its extent within the file. Marks the
   * segment as referenced. Returns false when the pointer is not backed by valid data.
   */
  boolean recover(byte[] pointer, long seq, boolean verifyData) {
    SegmentPointer p = SegmentPointer.decode(pointer);
    synchronized (this) {
      SegmentFile s = segments.get(p.segment());
      if (s == null || p.offset() + p.length() > s.size) {
        return false;
      }
      s.referenced = true;
      s.lastSeq = Math.max(s.lastSeq, seq);
    }
    if (verifyData) {
      try {
        load(pointer, seq);
      } catch (JournalException e) {
        return false;
      }
    }
    return true;
  }

  /**
   * After open-time recovery: deletes segments no pointer refers to (never committed, or trimmed).
   */
  synchronized void dropUnreferenced() {
    Iterator<Map.Entry<Long, SegmentFile>> it = segments.entrySet().iterator();
    while (it.hasNext()) {
      SegmentFile s = it.next().getValue();
      if (!s.referenced) {
        it.remove();
        s.delete();
      }
    }
  }

  /** Deletes the segments whose records all have sequence numbers through {@code seq}. */
  void trimThrough(long seq) {
    List<SegmentFile> dead = new ArrayList<>();
    synchronized (this) {
      Iterator<Map.Entry<Long, SegmentFile>> it = segments.entrySet().iterator();
      while (it.hasNext()) {
        SegmentFile s = it.next().getValue();
        if (s == current || s.lastSeq > seq) {
          break; // segments are in sequence order: the rest hold later entries
        }
        it.remove();
        dead.add(s);
        pendingForce.remove(s.channel);
      }
    }
    for (SegmentFile s : dead) {
      s.delete();
    }
  }

  /** Bytes held in segment files (for tests and status). */
  synchronized long bytes() {
    long total = 0;
    for (SegmentFile s : segments.values()) {
      total += s.size;
    }
    return total;
  }

  synchronized int segmentCount() {
    return segments.size();
  }

  @Override
  public synchronized void close() {
    for (SegmentFile s : segments.values()) {
      s.close();
    }
    current = null;
  }
}
