package io.kagami.journal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
 * whose data is forced is recorded afterwards. So after a power loss a pointer above that point
 * may name data that never reached the disk (its group was never acknowledged, or it was an
 * unsynced write): on open every such pointer is checked against its CRC32C and history is cut at
 * the first bad one (see {@link JournalStream}).
 *
 * <p>Trimmed segments are deleted, not reused: a file deleted before writeback never costs a disk
 * write, while a reused one keeps its dirty pages, which are then written back (measured: reuse
 * saved no CPU, and cost disk bandwidth once history piled up).
 *
 * <p>Pointer layout (big-endian), distinguished from a {@link JournalRecord} by its first byte:
 *
 * <pre>
 * offset  size  field
 * 0       1     0xFE (a record starts with its version, 1)
 * 1       8     segment id (the file is segments/&lt;volume&gt;/&lt;id, 20 digits&gt;.seg)
 * 9       8     byte offset in the segment
 * 17      4     length of the encoded record
 * 21      4     CRC32C of the encoded record
 * </pre>
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
   * group's write buffer. The same for synced records (the standby's, FUA writes): their segment
   * is forced alongside the WAL sync, not before it.
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

  /** Direct writes of one log in flight at most; more wait for the oldest (bounds the memory held). */
  private static final int MAX_DIRECT_IN_FLIGHT = 16;

  /** Each direct writer's aligned copy of the record it writes (O_DIRECT cannot use the heap). */
  private static final ThreadLocal<MemorySegment> DIRECT_BUFFER = new ThreadLocal<>();

  static final int POINTER_BYTES = 25;
  private static final byte POINTER_MARK = (byte) 0xFE;
  private static final String SUFFIX = ".seg";

  private final Path directory;
  private final long segmentBytes;
  /** Live segments by id; guarded by {@code this}. */
  private final TreeMap<Long, Segment> segments = new TreeMap<>();
  /** The segment being appended to, or null before the first large record since open. */
  private Segment current;
  /** Rolled segments with unforced writes; guarded by {@code this}. */
  private final List<FileChannel> pendingForce = new ArrayList<>();
  private boolean dirty;
  private boolean directoryDirty;
  /** Stored records not yet written to {@link #coalescingTo}; journal thread only. */
  private ByteBuffer coalesced;
  private Segment coalescingTo;
  private long coalescingAt;
  private long lastStoredSeq;
  /** Whether new segments get an O_DIRECT descriptor; journal thread only. */
  private boolean directWrites;
  /** Direct writes started and not yet waited for; journal thread only. */
  private final List<DirectWrite> directPending = new ArrayList<>();
  private final ExecutorService directWriters;

  private record DirectWrite(Segment segment, long offset, byte[] record, Future<Boolean> done) {}

  private static final class Segment {
    final long id;
    final Path path;
    FileChannel channel;
    /** A second descriptor for {@link NativeFiles} (-1: none), open while {@link #channel} is. */
    int fd = -1;
    /** An O_DIRECT descriptor for large records (-1: none), only on segments this log created. */
    int directFd = -1;
    long size;
    long lastSeq;
    boolean referenced;

    Segment(long id, Path path) {
      this.id = id;
      this.path = path;
    }
  }

  /** A decoded pointer. */
  record Pointer(long segment, long offset, int length, int crc) {}

  /**
   * @param directWriters runs the writes that bypass the page cache, several at once; null to
   *     write every record through the page cache
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
          Segment s = new Segment(id, p);
          s.size = Files.size(p);
          segments.put(id, s);
        }
      }
    } catch (IOException e) {
      throw new JournalException("cannot open journal segments in " + directory + ": " + e.getMessage(), e, Journal.isNoSpace(e));
    }
  }

  static boolean isPointer(byte[] value) {
    return value.length == POINTER_BYTES && value[0] == POINTER_MARK;
  }

  static Pointer decode(byte[] value) {
    ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.BIG_ENDIAN);
    b.get();
    return new Pointer(b.getLong(), b.getLong(), b.getInt(), b.getInt());
  }

  /** Length of the record an inline value or a pointer stands for. */
  static int recordLength(byte[] value) {
    return isPointer(value) ? decode(value).length() : value.length;
  }

  /**
   * Journal thread: writes {@code record} (entry {@code seq}) to the current segment when it is
   * large enough and returns the pointer RocksDB should store; returns {@code record} itself
   * otherwise. {@code forced}: the record's group will force the segment before it completes
   * (then a large record bypasses the page cache, see {@link #DIRECT_RECORD_BYTES}).
   */
  byte[] store(long seq, byte[] record, boolean forced) throws IOException {
    if (record.length < MIN_SEGMENT_RECORD_BYTES) {
      return record;
    }
    Segment s;
    synchronized (this) {
      if (current == null || (current.size > 0 && current.size + record.length > segmentBytes)) {
        long id = segments.isEmpty() ? 1 : segments.lastKey() + 1;
        Segment next = new Segment(id, directory.resolve(String.format("%020d", id) + SUFFIX));
        next.channel = FileChannel.open(next.path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ, StandardOpenOption.WRITE);
        next.fd = NativeFiles.open(next.path);
        if (directWrites) {
          next.directFd = NativeFiles.openDirect(next.path);
          directWrites = next.directFd >= 0; // e.g. tmpfs refuses O_DIRECT: stop trying
        }
        next.referenced = true;
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
    boolean direct = forced && directWrites && record.length > DIRECT_RECORD_BYTES && s.directFd >= 0;
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
    return ByteBuffer.allocate(POINTER_BYTES)
        .order(ByteOrder.BIG_ENDIAN)
        .put(POINTER_MARK)
        .putLong(s.id)
        .putLong(offset)
        .putInt(record.length)
        .putInt((int) crc.getValue())
        .array();
  }

  /**
   * Adds {@code record} (at {@code offset} of {@code s}) to the records waiting for one write, or
   * writes it at once when it is large. The group commit calls {@link #writeStored} before its
   * RocksDB write, so a pointer never reaches RocksDB before its data reaches the file.
   */
  private void coalesce(Segment s, long offset, byte[] record, boolean direct) throws IOException {
    if (direct) {
      writeDirect(s, offset, record);
      return;
    }
    if (coalescingTo != null
        && (coalescingTo != s || coalescingAt + coalesced.position() != offset || coalesced.remaining() < record.length)) {
      // Gathered records are written as one run: a record that does not extend it (another
      // segment, or after a direct record's range) starts a new one.
      writeStored();
    }
    if (record.length > COALESCE_BYTES / 2) {
      writeThroughPageCache(s, offset, record);
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
   * waits for it. A direct write waits for the device, so several run at once: one after another,
   * 1 MiB records were written at ~350 MiB/s while the device took 1.5 GB/s.
   */
  private void writeDirect(Segment s, long offset, byte[] record) throws IOException {
    if (directPending.size() >= MAX_DIRECT_IN_FLIGHT) {
      awaitDirect();
    }
    int fd = s.directFd;
    Future<Boolean> done = directWriters.submit(() -> writeDirectNow(fd, offset, record));
    directPending.add(new DirectWrite(s, offset, record, done));
  }

  /** On a direct writer: copies {@code record} into aligned memory and writes it; false on failure. */
  private static boolean writeDirectNow(int fd, long offset, byte[] record) {
    long padded = alignUp(record.length);
    MemorySegment buffer = DIRECT_BUFFER.get();
    if (buffer == null || buffer.byteSize() < padded) {
      buffer = Arena.ofAuto().allocate(Math.max(padded, COALESCE_BYTES), NativeFiles.DIRECT_ALIGNMENT);
      DIRECT_BUFFER.set(buffer);
    }
    MemorySegment.copy(record, 0, buffer, ValueLayout.JAVA_BYTE, 0, record.length);
    buffer.asSlice(record.length, padded - record.length).fill((byte) 0);
    return NativeFiles.pwriteFully(fd, buffer.asSlice(0, padded), offset);
  }

  /**
   * Journal thread: waits for every direct write started; one that failed is written again
   * through the page cache (which reports a real error, such as a full disk), and this log
   * writes through the page cache from then on.
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
        LOG.log(Level.WARNING, "journal segment {0}: a write bypassing the page cache failed; writing through it from now on", w.segment.path);
        directWrites = false;
      }
      if (failed == null) {
        try {
          writeThroughPageCache(w.segment, w.offset, w.record);
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

  /**
   * Writes one record through the page cache, straight from the array (the channel would copy it
   * into a direct buffer first); the channel writes what the native call could not, and reports
   * the error if that fails too.
   */
  private static void writeThroughPageCache(Segment s, long offset, byte[] record) throws IOException {
    int n = NativeFiles.pwriteFully(s.fd, record, 0, record.length, offset);
    if (n < record.length) {
      writeFully(s.channel, ByteBuffer.wrap(record, n, record.length - n), offset + n);
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
      writeFully(coalescingTo.channel, coalesced, coalescingAt);
    } finally {
      coalesced.clear();
      coalescingTo = null;
    }
  }

  private static void writeFully(FileChannel channel, ByteBuffer buf, long at) throws IOException {
    long pos = at;
    while (buf.hasRemaining()) {
      pos += channel.write(buf, pos);
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
    Segment s;
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
   * reading the rest: no checksum can be verified on a part, so this is for what the journal
   * wrote itself or checked on open (see {@link JournalStream#readExtents}).
   */
  byte[] loadPrefix(byte[] pointer, long seq, int length) {
    Pointer p = decode(pointer);
    byte[] out = new byte[Math.min(length, p.length())];
    readAt(p, seq, out);
    return out;
  }

  /** Reads the record {@code pointer} names and checks its CRC32C. */
  byte[] load(byte[] pointer, long seq) {
    Pointer p = decode(pointer);
    byte[] out = new byte[p.length()];
    readAt(p, seq, out);
    CRC32C crc = new CRC32C();
    crc.update(out);
    if ((int) crc.getValue() != p.crc()) {
      throw new JournalException("journal segment " + p.segment() + ": checksum mismatch for seq " + seq);
    }
    return out;
  }

  /** Fills {@code out} from the start of the record {@code p} (entry {@code seq}) names. */
  private synchronized void readAt(Pointer p, long seq, byte[] out) {
    Segment s = segments.get(p.segment());
    if (s == null) {
      throw new JournalException("journal segment " + p.segment() + " of seq " + seq + " is missing in " + directory);
    }
    try {
      if (s.channel == null) {
        s.channel = FileChannel.open(s.path, StandardOpenOption.READ);
        s.fd = NativeFiles.open(s.path);
      }
      ByteBuffer buf = ByteBuffer.wrap(out);
      long pos = p.offset();
      long n0 = NativeFiles.pread(s.fd, out, 0, out.length, pos);
      if (n0 > 0) {
        // Straight into the array; the channel would read into a direct buffer and copy.
        buf.position((int) n0);
        pos += n0;
      }
      while (buf.hasRemaining()) {
        int n = s.channel.read(buf, pos);
        if (n < 0) {
          throw new JournalException(
              "journal segment " + s.path.getFileName() + " ends before seq " + seq + " (offset " + p.offset() + ", length " + p.length() + ")");
        }
        pos += n;
      }
    } catch (IOException e) {
      throw new JournalException("cannot read journal segment " + s.path + ": " + e.getMessage(), e, false);
    }
  }

  /**
   * Open-time check of one pointer: with {@code verifyData} the record is read and its checksum
   * compared (entries that were never forced); otherwise only its extent within the file.
   * Marks the segment as referenced. Returns false when the pointer is not backed by valid data.
   */
  boolean recover(byte[] pointer, long seq, boolean verifyData) {
    Pointer p = decode(pointer);
    synchronized (this) {
      Segment s = segments.get(p.segment());
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

  /** After open-time recovery: deletes segments no pointer refers to (never committed, or trimmed). */
  synchronized void dropUnreferenced() {
    Iterator<Map.Entry<Long, Segment>> it = segments.entrySet().iterator();
    while (it.hasNext()) {
      Segment s = it.next().getValue();
      if (!s.referenced) {
        it.remove();
        delete(s);
      }
    }
  }

  /** Deletes the segments whose records all have sequence numbers through {@code seq}. */
  void trimThrough(long seq) {
    List<Segment> dead = new ArrayList<>();
    synchronized (this) {
      Iterator<Map.Entry<Long, Segment>> it = segments.entrySet().iterator();
      while (it.hasNext()) {
        Segment s = it.next().getValue();
        if (s == current || s.lastSeq > seq) {
          break; // segments are in sequence order: the rest hold later entries
        }
        it.remove();
        dead.add(s);
        pendingForce.remove(s.channel);
      }
    }
    for (Segment s : dead) {
      delete(s);
    }
  }

  private void delete(Segment s) {
    try {
      if (s.channel != null) {
        s.channel.close();
        NativeFiles.close(s.fd);
        s.fd = -1;
        NativeFiles.close(s.directFd);
        s.directFd = -1;
      }
      Files.deleteIfExists(s.path);
    } catch (NoSuchFileException e) {
      // already gone
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot delete trimmed journal segment {0}: {1}", s.path, e.getMessage());
    }
  }

  /** Bytes held in segment files (for tests and status). */
  synchronized long bytes() {
    long total = 0;
    for (Segment s : segments.values()) {
      total += s.size;
    }
    return total;
  }

  synchronized int segmentCount() {
    return segments.size();
  }

  @Override
  public synchronized void close() {
    for (Segment s : segments.values()) {
      if (s.channel != null) {
        try {
          s.channel.close();
        } catch (IOException e) {
          LOG.log(Level.WARNING, "closing journal segment {0}: {1}", s.path, e.getMessage());
        }
        NativeFiles.close(s.fd);
        s.fd = -1;
        NativeFiles.close(s.directFd);
        s.directFd = -1;
        s.channel = null;
      }
    }
    current = null;
  }

}
