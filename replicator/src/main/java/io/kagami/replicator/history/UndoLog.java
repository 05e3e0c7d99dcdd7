package io.kagami.replicator.history;

import io.kagami.journal.DurableFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * A standby volume's before-images ("undo records"): for each applied journal entry, what the
 * replica held in the entry's range just before the entry overwrote it. Records are appended in
 * sequence order to segment files ({@code <id, 20 digits>.undo}) and made durable in batches, each
 * closed by a commit marker; trimming deletes whole segments from the oldest.
 *
 * <p>Record layout (big-endian), version 1:
 *
 * <pre>
 * offset  size  field
 * 0       1     version (1)
 * 1       1     kind (1 = IMAGE: payload follows, 2 = ZEROS: the range held zeroes, 3 = COMMIT)
 * 2       8     seq (COMMIT: the last seq of the batch)
 * 10      8     millis: when the entry was journaled on this site
 * 18      8     volume byte offset
 * 26      4     length in bytes (IMAGE: of the payload)
 * 30      4     CRC32C of bytes [0, 30) and the payload
 * 34      n     payload (IMAGE)
 * </pre>
 *
 * <p>Crash safety: a batch is written, closed by its COMMIT and forced before the caller writes the
 * batch's entries into the replica ({@link History}). On open, everything after the last valid
 * COMMIT is cut: those records were never forced, so the replica writes they precede were never
 * issued, and the applier captures them again when it replays the entries.
 *
 * <p>Thread-safety: all methods synchronize on this log; payload reads of committed records may run
 * concurrently with appends (positional reads of immutable bytes).
 *
 * <p>One role: the undo file format. Writing, recovering and trimming records are three readings of
 * the one layout above; kept together, the layout and its crash rule live in one place.
 */
public final class UndoLog implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(UndoLog.class.getName());
  static final int VERSION = 1;
  static final int HEADER = 34;
  static final byte IMAGE = 1;
  static final byte ZEROS = 2;
  static final byte COMMIT = 3;
  private static final String SUFFIX = ".undo";
  private static final String COVERAGE = "coverage";

  /**
   * A before-image: {@code length} bytes at {@code offset} as they were before entry {@code seq}.
   */
  public record Undo(
      long seq, long millis, long offset, int length, Segment segment, long payloadPos) {
    boolean zeros() {
      return payloadPos < 0;
    }

    long end() {
      return offset + length;
    }
  }

  /** One segment file; {@code lastSeq} and {@code lastMillis} of its newest committed record. */
  public static final class Segment {
    final long id;
    final Path path;
    final FileChannel channel;
    long size;
    long firstSeq = Long.MAX_VALUE;
    long lastSeq;
    long lastMillis;

    Segment(long id, Path path, FileChannel channel) {
      this.id = id;
      this.path = path;
      this.channel = channel;
    }
  }

  private final Path directory;
  private final long segmentBytes;
  private final List<Segment> segments = new ArrayList<>();
  private final ArrayList<Undo> records = new ArrayList<>();
  private final List<Undo> pending = new ArrayList<>();
  private ByteBuffer batch = ByteBuffer.allocate(1 << 16);

  /** A batch larger than this is written out as it grows (uncommitted until its COMMIT). */
  private final int spillBytes;

  /** Where the open batch goes once it spilled, and how much of it is in the file already. */
  private Segment batchSegment;

  private long spilled;
  private long committedSeq;
  private long coverageFrom;
  private long bytes;

  private UndoLog(Path directory, long segmentBytes) {
    this.directory = directory;
    this.segmentBytes = segmentBytes;
    this.spillBytes = (int) Math.min(8L << 20, Math.max(4096, segmentBytes));
  }

  /** Opens (or creates) the log in {@code directory}, cutting an uncommitted tail. */
  public static UndoLog open(Path directory, long segmentBytes) {
    UndoLog log = new UndoLog(directory, segmentBytes);
    try {
      Files.createDirectories(directory);
      log.load();
    } catch (IOException e) {
      log.close();
      throw new UncheckedIOException(
          "undo log " + directory + ": cannot open: " + e.getMessage(), e);
    }
    return log;
  }

  private void load() throws IOException {
    List<Path> files = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(directory, "*" + SUFFIX)) {
      ds.forEach(files::add);
    }
    files.sort(null);
    Path coverageFile = directory.resolve(COVERAGE);
    coverageFrom =
        Files.exists(coverageFile)
            ? ByteBuffer.wrap(Files.readAllBytes(coverageFile)).getLong()
            : -1;
    boolean cut = false;
    for (Path p : files) {
      long id = Long.parseLong(p.getFileName().toString().replace(SUFFIX, ""));
      if (cut) {
        Files.delete(p); // after a torn segment: nothing here was committed
        continue;
      }
      Segment s =
          new Segment(
              id, p, FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE));
      segments.add(s);
      long validEnd = scan(s);
      if (validEnd < s.channel.size()) {
        LOG.log(
            Level.INFO,
            "undo log {0}: cut {1} uncommitted bytes at the end of {2}",
            directory,
            s.channel.size() - validEnd,
            p.getFileName());
        s.channel.truncate(validEnd);
        s.channel.force(true);
        cut = true;
      }
      s.size = validEnd;
      bytes += validEnd;
    }
    pending.clear();
    if (coverageFrom < 0) {
      coverageFrom = records.isEmpty() ? Long.MAX_VALUE : records.getFirst().seq() - 1;
    } else if (!records.isEmpty()) {
      coverageFrom = Math.max(coverageFrom, records.getFirst().seq() - 1);
    }
    if (coverageFrom != Long.MAX_VALUE) {
      // Entries through the start of coverage are never captured (their images would be of no use).
      committedSeq = Math.max(committedSeq, coverageFrom);
    }
  }

  /** Reads records of {@code s} up to its last valid COMMIT; returns the position after it. */
  private long scan(Segment s) throws IOException {
    long pos = 0;
    long committedEnd = 0;
    long size = s.channel.size();
    ByteBuffer head = ByteBuffer.allocate(HEADER).order(ByteOrder.BIG_ENDIAN);
    while (pos + HEADER <= size) {
      head.clear();
      readFully(s.channel, head, pos);
      head.flip();
      int version = head.get(0);
      byte kind = head.get(1);
      long seq = head.getLong(2);
      long millis = head.getLong(10);
      long offset = head.getLong(18);
      int length = head.getInt(26);
      int crc = head.getInt(30);
      if (version != VERSION || kind < IMAGE || kind > COMMIT || length < 0) {
        break;
      }
      long payload = kind == IMAGE ? length : 0;
      if (pos + HEADER + payload > size) {
        break;
      }
      CRC32C c = new CRC32C();
      c.update(head.array(), 0, 30);
      if (payload > 0) {
        ByteBuffer data = ByteBuffer.allocate((int) payload);
        readFully(s.channel, data, pos + HEADER);
        data.flip();
        c.update(data);
      }
      if ((int) c.getValue() != crc) {
        break;
      }
      if (kind == COMMIT) {
        for (Undo u : pending) {
          records.add(u);
          s.firstSeq = Math.min(s.firstSeq, u.seq());
          s.lastSeq = u.seq();
          s.lastMillis = Math.max(s.lastMillis, u.millis());
        }
        pending.clear();
        committedSeq = Math.max(committedSeq, seq);
        committedEnd = pos + HEADER;
      } else {
        pending.add(new Undo(seq, millis, offset, length, s, kind == IMAGE ? pos + HEADER : -1));
      }
      pos += HEADER + payload;
    }
    pending.clear();
    return committedEnd;
  }

  private static void readFully(FileChannel ch, ByteBuffer dst, long pos) throws IOException {
    while (dst.hasRemaining()) {
      int n = ch.read(dst, pos);
      if (n < 0) {
        throw new IOException("unexpected end of undo segment");
      }
      pos += n;
    }
  }

  /** Highest seq whose records are committed (0 when none ever were). */
  public synchronized long committedSeq() {
    return committedSeq;
  }

  /**
   * The seq from which history is complete: every entry after it has its records here (so the state
   * at any seq from this one on can be rebuilt); {@link Long#MAX_VALUE} when unknown.
   */
  public synchronized long coverageFrom() {
    return coverageFrom;
  }

  /** Starts recording afresh at {@code seq}: drops every record and persists the new start. */
  public synchronized void restartAt(long seq) {
    clearLocked();
    try {
      DurableFiles.replace(
          directory.resolve(COVERAGE), ByteBuffer.allocate(8).putLong(seq).array());
    } catch (IOException e) {
      throw new UncheckedIOException(
          "undo log " + directory + ": cannot record where history starts: " + e.getMessage(), e);
    }
    coverageFrom = seq;
    committedSeq = Math.max(committedSeq, seq);
  }

  /** Adds a record to the open batch; {@code image} null: the range held zeroes. */
  public synchronized void add(long seq, long millis, long offset, int length, byte[] image) {
    int need = HEADER + (image == null ? 0 : image.length);
    if (batch.position() > 0 && batch.position() + need > spillBytes) {
      spill(); // memory stays bounded whatever the batch (a discard of the whole volume...)
    }
    if (batch.remaining() < need) {
      ByteBuffer bigger =
          ByteBuffer.allocate(Math.max(batch.capacity() * 2, batch.position() + need));
      batch.flip();
      bigger.put(batch);
      batch = bigger;
    }
    int start = batch.position();
    batch
        .put((byte) VERSION)
        .put(image == null ? ZEROS : IMAGE)
        .putLong(seq)
        .putLong(millis)
        .putLong(offset)
        .putInt(image == null ? length : image.length);
    CRC32C c = new CRC32C();
    c.update(batch.array(), start, 30);
    if (image != null) {
      c.update(image);
    }
    batch.putInt((int) c.getValue());
    if (image != null) {
      batch.put(image);
    }
    // The payload position is relative to the batch until commit places it in a segment.
    pending.add(
        new Undo(seq, millis, offset, length, null, image == null ? -1 : spilled + start + HEADER));
  }

  /**
   * Writes the open batch's buffer to its segment, after what it spilled before; no COMMIT, no
   * force.
   */
  private void spill() {
    try {
      if (batchSegment == null) {
        batchSegment = current();
      }
      ByteBuffer out = ByteBuffer.wrap(batch.array(), 0, batch.position());
      long pos = batchSegment.size + spilled;
      while (out.hasRemaining()) {
        pos += batchSegment.channel.write(out, pos);
      }
      spilled += batch.position();
      batch.clear();
    } catch (IOException e) {
      throw new UncheckedIOException(
          "undo log " + directory + ": writing before-images failed: " + e.getMessage(), e);
    }
  }

  /**
   * Writes the open batch and its COMMIT ({@code lastSeq}) and forces it; returns the committed
   * records. After this the replica writes the batch describes may be issued.
   */
  public synchronized List<Undo> commit(long lastSeq) {
    add(lastSeq, 0, 0, 0, null);
    batch.put(batch.position() - HEADER + 1, COMMIT);
    // Recompute the COMMIT's checksum over its final kind byte.
    int at = batch.position() - HEADER;
    CRC32C c = new CRC32C();
    c.update(batch.array(), at, 30);
    batch.putInt(at + 30, (int) c.getValue());
    pending.removeLast();
    try {
      Segment s = batchSegment != null ? batchSegment : current();
      long base = s.size;
      ByteBuffer out = ByteBuffer.wrap(batch.array(), 0, batch.position());
      long pos = base + spilled;
      while (out.hasRemaining()) {
        pos += s.channel.write(out, pos);
      }
      s.channel.force(false);
      s.size = pos;
      bytes += pos - base;
      List<Undo> done = new ArrayList<>(pending.size());
      for (Undo u : pending) {
        Undo placed =
            new Undo(
                u.seq(),
                u.millis(),
                u.offset(),
                u.length(),
                s,
                u.zeros() ? -1 : base + u.payloadPos());
        records.add(placed);
        done.add(placed);
        s.firstSeq = Math.min(s.firstSeq, u.seq());
        s.lastSeq = u.seq();
        s.lastMillis = Math.max(s.lastMillis, u.millis());
      }
      committedSeq = Math.max(committedSeq, lastSeq);
      return done;
    } catch (IOException e) {
      throw new UncheckedIOException(
          "undo log " + directory + ": writing before-images failed: " + e.getMessage(), e);
    } finally {
      pending.clear();
      batch.clear();
      batchSegment = null;
      spilled = 0;
    }
  }

  private Segment current() throws IOException {
    Segment last = segments.isEmpty() ? null : segments.getLast();
    if (last == null || last.size >= segmentBytes) {
      long id = last == null ? 1 : last.id + 1;
      Path p = directory.resolve(String.format("%020d", id) + SUFFIX);
      Segment s =
          new Segment(
              id,
              p,
              FileChannel.open(
                  p,
                  StandardOpenOption.CREATE,
                  StandardOpenOption.TRUNCATE_EXISTING,
                  StandardOpenOption.READ,
                  StandardOpenOption.WRITE));
      DurableFiles.syncDirectory(directory);
      segments.add(s);
      return s;
    }
    return last;
  }

  /**
   * Reads {@code dst.remaining()} bytes of {@code u}'s before-image from {@code from} within it.
   */
  public static void read(Undo u, long from, ByteBuffer dst) throws IOException {
    if (u.zeros()) {
      while (dst.hasRemaining()) {
        dst.put((byte) 0);
      }
      return;
    }
    readFully(u.segment().channel, dst, u.payloadPos() + from);
  }

  /** Committed records with seq greater than {@code seq}, in seq order. */
  public synchronized List<Undo> after(long seq) {
    return new ArrayList<>(records.subList(indexAfter(seq), records.size()));
  }

  /** The newest committed record with seq at most {@code seq}, or null. */
  public synchronized Undo lastAtOrBefore(long seq) {
    int i = indexAfter(seq);
    return i == 0 ? null : records.get(i - 1);
  }

  /** The first committed record with seq greater than {@code seq}, or null. */
  public synchronized Undo firstAfter(long seq) {
    int i = indexAfter(seq);
    return i == records.size() ? null : records.get(i);
  }

  private int indexAfter(long seq) {
    int lo = 0;
    int hi = records.size();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (records.get(mid).seq() <= seq) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /**
   * The newest seq whose entry was journaled at or before {@code millis}, or -1 if none is held.
   */
  public synchronized long lastSeqAtOrBefore(long millis) {
    // Journal times never go back along the seqs: binary search for the last one not after millis.
    int lo = 0;
    int hi = records.size();
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (records.get(mid).millis() <= millis) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo == 0 ? -1 : records.get(lo - 1).seq();
  }

  /**
   * Deletes the oldest segments while {@code drop} says so, but never one holding a record with a
   * seq above {@code pinnedAfter} (a drill or rollback needs those). Returns the bytes freed.
   */
  public synchronized long trim(long pinnedAfter, SegmentPredicate drop) {
    long freed = 0;
    while (!segments.isEmpty()) {
      Segment s = segments.getFirst();
      if (s.lastSeq > pinnedAfter || s.lastSeq == 0 || !drop.drop(s.lastSeq, s.lastMillis, bytes)) {
        break;
      }
      segments.removeFirst();
      int n = 0;
      while (n < records.size() && records.get(n).segment() == s) {
        n++;
      }
      records.subList(0, n).clear();
      coverageFrom = Math.max(coverageFrom == Long.MAX_VALUE ? 0 : coverageFrom, s.lastSeq);
      bytes -= s.size;
      freed += s.size;
      try {
        s.channel.close();
        Files.deleteIfExists(s.path);
      } catch (IOException e) {
        LOG.log(
            Level.WARNING,
            "undo log {0}: cannot delete {1}: {2}",
            directory,
            s.path.getFileName(),
            e.getMessage());
      }
    }
    return freed;
  }

  /**
   * Decides whether the oldest segment goes: its newest record's seq and time, and the log's bytes.
   */
  @FunctionalInterface
  public interface SegmentPredicate {
    boolean drop(long lastSeq, long lastMillis, long totalBytes);
  }

  /** Drops every record: history is no longer wanted (or no longer true of the replica). */
  public synchronized void clear() {
    clearLocked();
    coverageFrom = Long.MAX_VALUE;
    try {
      Files.deleteIfExists(directory.resolve(COVERAGE));
    } catch (IOException e) {
      throw new UncheckedIOException("undo log " + directory + ": " + e.getMessage(), e);
    }
  }

  private void clearLocked() {
    for (Segment s : segments) {
      try {
        s.channel.close();
        Files.deleteIfExists(s.path);
      } catch (IOException e) {
        throw new UncheckedIOException(
            "undo log "
                + directory
                + ": cannot delete "
                + s.path.getFileName()
                + ": "
                + e.getMessage(),
            e);
      }
    }
    segments.clear();
    records.clear();
    pending.clear();
    batch.clear();
    batchSegment = null;
    spilled = 0;
    bytes = 0;
  }

  /** Bytes held in segment files. */
  public synchronized long bytes() {
    return bytes;
  }

  public synchronized int recordCount() {
    return records.size();
  }

  @Override
  public synchronized void close() {
    for (Segment s : segments) {
      try {
        s.channel.close();
      } catch (IOException e) {
        LOG.log(
            Level.WARNING,
            "undo log {0}: closing {1}: {2}",
            directory,
            s.path.getFileName(),
            e.getMessage());
      }
    }
    segments.clear();
  }
}
