package io.kagami.journal;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.ColumnFamilyDescriptor;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.Env;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.SstFileManager;
import org.rocksdb.WriteBufferManager;
import org.rocksdb.WriteOptions;

/**
 * A site's journal: one RocksDB database holding an ordered history (a {@link JournalStream}) per
 * volume, plus small per-volume metadata. All streams share one write-ahead log, so a single group
 * commit (one WAL sync) makes the writes of every volume durable at once.
 *
 * <p>Layout: column family {@code v:<volume>} maps an 8-byte big-endian sequence number to an
 * encoded {@link JournalRecord}; RocksDB's bytewise order is therefore history order, and trimming
 * is a range delete. The default column family maps {@code <volume>\0<key>} to an 8-byte value.
 *
 * <p>Thread-safety: all methods are safe from any thread. Appends are committed by one writer
 * thread ({@code kagami-journal}), see {@link GroupCommitter}.
 */
public final class Journal implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(Journal.class.getName());
  private static final String STREAM_PREFIX = "v:";
  private static final String SEGMENTS_DIRECTORY = "segments";

  /** Large-record writes in flight at once; the device queue, not CPU, is what they use. */
  private static final int DIRECT_WRITERS = 4;

  private static final java.util.regex.Pattern VOLUME_NAME =
      java.util.regex.Pattern.compile("[A-Za-z0-9_][A-Za-z0-9._-]{0,127}");

  static {
    RocksLibrary.load();
  }

  /** Memory block size of a memtable (see the column family options). */
  static final long ARENA_BLOCK_BYTES = 256 << 10;

  private final JournalConfig config;
  private final InstantSource clock;
  private final NanoClock nanos;
  private final DBOptions dbOptions;
  private final SstFileManager sstFiles;
  private final ColumnFamilyOptions cfOptions;
  private final LRUCache blockCache;
  private final WriteBufferManager writeBuffers;
  private final RocksDB db;
  private final ColumnFamilyHandle metaFamily;
  private final Map<String, JournalStream> streams = new HashMap<>();
  private final List<ColumnFamilyHandle> handles = new ArrayList<>();
  private final Map<String, ColumnFamilyHandle> existing = new HashMap<>();
  private final GroupCommitter committer;

  /**
   * The segment logs' writes that bypass the page cache (large records): shared by all volumes, as
   * the device, not the thread count, bounds them.
   */
  private final ExecutorService directWriters;

  private final WriteOptions syncWrite = new WriteOptions().setSync(true);
  private boolean closed;

  private Journal(
      JournalConfig config, InstantSource clock, NanoClock nanos, ExecutorService directWriters)
      throws RocksDBException, IOException {
    this.config = config;
    this.clock = clock;
    this.nanos = nanos;
    this.directWriters = directWriters;
    Files.createDirectories(config.directory());
    // With a file manager RocksDB recovers by itself from a flush or compaction that ran out of
    // space, once space returns, instead of staying read-only until reopened.
    this.sstFiles = new SstFileManager(Env.getDefault());
    this.dbOptions =
        new DBOptions()
            .setSstFileManager(sstFiles)
            .setCreateIfMissing(true)
            .setCreateMissingColumnFamilies(true)
            // Old WAL files pin memtables of trimmed streams; bound them so a quiet volume does not
            // keep gigabytes of log alive. The same bound caps the block each WAL file is
            // allocated up front in (otherwise 1.1 x the write buffer: ~280 MiB, which on a small
            // filesystem left room for a few MiB of writes).
            .setMaxTotalWalSize(config.walBytes())
            .setKeepLogFileNum(4)
            // Write back the WAL and table files steadily instead of in bursts that trip the
            // kernel's dirty-page throttling (and stall the host's writes behind them).
            .setMaxBackgroundJobs(2);
    // RocksDB's share of the site's memory budget is one cache: the block cache of every volume
    // (RocksDB's default is one per table factory, outside any budget) with the memtables of all
    // volumes charged to it by the write buffer manager, which flushes the largest memtable once
    // they hold memtableBytes, however many volumes there are. Index and filter blocks live in the
    // cache too, not beside it per open table file.
    this.blockCache = new LRUCache(config.memtableBytes() + config.blockCacheBytes());
    this.writeBuffers = new WriteBufferManager(config.memtableBytes(), blockCache);
    dbOptions.setWriteBufferManager(writeBuffers);
    this.cfOptions =
        new ColumnFamilyOptions()
            .setWriteBufferSize(config.writeBufferBytes())
            .setMaxWriteBufferNumber(4)
            // A memtable takes memory in blocks of this size (by default an eighth of the write
            // buffer, several MiB): each volume's memtable holds at least one, so with many
            // volumes large blocks alone would outgrow the share. Entries are small (payloads of
            // 4 KiB and more live in segment files), so small blocks cost nothing.
            .setArenaBlockSize(ARENA_BLOCK_BYTES)
            .setTableFormatConfig(
                new BlockBasedTableConfig()
                    .setBlockCache(blockCache)
                    .setCacheIndexAndFilterBlocks(true))
            .setLevel0SlowdownWritesTrigger(40)
            .setLevel0StopWritesTrigger(64)
            // Large payloads go to blob files: compaction then moves keys, not data.
            .setEnableBlobFiles(true)
            .setMinBlobSize(16 << 10)
            .setEnableBlobGarbageCollection(true)
            // Payloads are LZ4-compressed on entry already.
            .setCompressionType(CompressionType.NO_COMPRESSION);
    String path = config.directory().toString();
    List<byte[]> names;
    try (Options probe = new Options()) {
      names = RocksDB.listColumnFamilies(probe, path);
    }
    List<ColumnFamilyDescriptor> descriptors = new ArrayList<>();
    descriptors.add(new ColumnFamilyDescriptor(RocksDB.DEFAULT_COLUMN_FAMILY, cfOptions));
    for (byte[] name : names) {
      if (!java.util.Arrays.equals(name, RocksDB.DEFAULT_COLUMN_FAMILY)) {
        descriptors.add(new ColumnFamilyDescriptor(name, cfOptions));
      }
    }
    this.db = RocksDB.open(dbOptions, path, descriptors, handles);
    this.metaFamily = handles.get(0);
    for (int i = 1; i < descriptors.size(); i++) {
      existing.put(
          new String(descriptors.get(i).getName(), StandardCharsets.UTF_8), handles.get(i));
    }
    this.committer =
        new GroupCommitter(
            db,
            metaFamily,
            config.maxGroupEntries(),
            SpaceGuard.of(config.directory(), config.reserveBytes()),
            config.afterCommitBytes());
  }

  /** Opens (creating if needed) the journal in {@code config.directory()} and starts its writer. */
  public static Journal open(JournalConfig config, InstantSource clock) {
    return open(config, clock, SystemTime.NANO);
  }

  /**
   * As {@link #open(JournalConfig, InstantSource)}: {@code clock} stamps the history's commits
   * (what a point in time names), {@code nanos} measures the age of a lag.
   */
  public static Journal open(JournalConfig config, InstantSource clock, NanoClock nanos) {
    return open(
        config,
        clock,
        nanos,
        Executors.newFixedThreadPool(
            DIRECT_WRITERS,
            Thread.ofPlatform().name("kagami-journal-io-", 0).daemon(true).factory()));
  }

  /**
   * As {@link #open(JournalConfig, InstantSource, NanoClock)}, with the given direct writers (a
   * test's seam); closed with the journal.
   */
  static Journal open(
      JournalConfig config, InstantSource clock, NanoClock nanos, ExecutorService directWriters) {
    try {
      Journal journal = new Journal(config, clock, nanos, directWriters);
      journal.committer.start();
      return journal;
    } catch (RocksDBException | IOException e) {
      directWriters.shutdown();
      throw new JournalException(
          "cannot open journal in " + config.directory() + ": " + e.getMessage(), e, isNoSpace(e));
    }
  }

  public JournalConfig config() {
    return config;
  }

  /** The history of {@code volume}, created empty on first use. */
  public synchronized JournalStream stream(String volume) {
    ensureOpen();
    if (!VOLUME_NAME.matcher(volume).matches()) {
      // The name becomes a directory name for the volume's segments.
      throw new IllegalArgumentException(
          "volume name "
              + volume
              + " is not allowed in the journal (letters, digits, . _ - ; at most 128)");
    }
    JournalStream stream = streams.get(volume);
    if (stream != null) {
      return stream;
    }
    String family = STREAM_PREFIX + volume;
    ColumnFamilyHandle handle = existing.get(family);
    try {
      if (handle == null) {
        handle =
            db.createColumnFamily(
                new ColumnFamilyDescriptor(family.getBytes(StandardCharsets.UTF_8), cfOptions));
        handles.add(handle);
        existing.put(family, handle);
      }
      SegmentLog segments =
          new SegmentLog(
              config.directory().resolve(SEGMENTS_DIRECTORY).resolve(volume),
              config.segmentBytes(),
              directWriters);
      try {
        stream =
            new JournalStream(
                volume,
                this,
                db,
                handle,
                committer,
                segments,
                clock,
                nanos,
                config.tailCacheBytes());
      } catch (RuntimeException e) {
        segments.close();
        throw e;
      }
    } catch (RocksDBException e) {
      throw new JournalException(
          "cannot open journal stream of volume " + volume + ": " + e.getMessage(),
          e,
          isNoSpace(e));
    }
    streams.put(volume, stream);
    LOG.log(
        Level.DEBUG,
        "journal stream {0}: seq {1}..{2}",
        volume,
        stream.firstSeq(),
        stream.lastSeq());
    return stream;
  }

  /**
   * Completes once the journal has failed in a way only a restart heals: a RocksDB write failed
   * (for example its write-ahead log met a full disk that another process filled behind the space
   * guard's back), after which the group's sequence numbers may or may not be in the log, and only
   * replaying it at the next open tells. Completed on the committer's thread: dependants must hand
   * off, not block. Never completes while the journal keeps working.
   */
  public java.util.concurrent.CompletableFuture<JournalException> broken() {
    return committer.broken();
  }

  /** Names of the volumes that have a stream in this journal (opened or not). */
  public synchronized List<String> volumes() {
    List<String> out = new ArrayList<>();
    for (String family : existing.keySet()) {
      out.add(family.substring(STREAM_PREFIX.length()));
    }
    out.sort(null);
    return out;
  }

  long meta(String volume, String key, long absent) {
    try {
      byte[] v = db.get(metaFamily, metaKey(volume, key));
      return v == null ? absent : Keys.decode(v);
    } catch (RocksDBException e) {
      throw new JournalException(
          "cannot read journal metadata " + volume + "/" + key + ": " + e.getMessage(), e, false);
    }
  }

  void putMeta(String volume, String key, long value) {
    try {
      db.put(metaFamily, syncWrite, metaKey(volume, key), Keys.encode(value));
    } catch (RocksDBException e) {
      throw new JournalException(
          "cannot persist journal metadata " + volume + "/" + key + ": " + e.getMessage(),
          e,
          isNoSpace(e));
    }
  }

  private static byte[] metaKey(String volume, String key) {
    return (volume + '\0' + key).getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The value RocksDB holds for {@code seq} of {@code volume} (a record or a pointer); for tests.
   */
  synchronized byte[] rawValue(String volume, long seq) throws RocksDBException {
    return db.get(existing.get(STREAM_PREFIX + volume), Keys.encode(seq));
  }

  static byte[] metaKeyOf(String volume, String key) {
    return metaKey(volume, key);
  }

  static boolean isNoSpace(Exception e) {
    return DiskSpace.isNoSpace(e);
  }

  private void ensureOpen() {
    if (closed) {
      throw new JournalException("journal " + config.directory() + " is closed");
    }
  }

  /**
   * Committed record bytes whose after-commit actions (the primary's volume writes) have not run
   * yet.
   */
  public long afterCommitBacklogBytes() {
    return committer.hookBacklogBytes();
  }

  /** Groups of appends acknowledged only after their after-commit actions ran (backlog full). */
  public long lateAcknowledgements() {
    return committer.lateGroups();
  }

  /** Bytes all streams' in-memory tails hold now (a share of the site's memory budget). */
  public synchronized long tailCacheBytes() {
    long sum = 0;
    for (JournalStream s : streams.values()) {
      sum += s.tailCacheBytes();
    }
    return sum;
  }

  /**
   * Off-heap bytes RocksDB holds now for its memtables and block cache (the journal's share of the
   * site's memory budget: the cache's usage, which the memtables are charged to); 0 once closed.
   */
  public synchronized long rocksMemoryBytes() {
    if (closed) {
      return 0;
    }
    return blockCache.getUsage();
  }

  /** Stops the writer after it committed what was queued, then closes RocksDB. Idempotent. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    committer.close();
    directWriters.shutdown(); // idle now: the journal thread waits for every write it starts
    for (JournalStream s : streams.values()) {
      s.segments().close();
    }
    try {
      db.syncWal();
    } catch (RocksDBException e) {
      LOG.log(Level.WARNING, "journal WAL sync at close failed: {0}", e.getMessage());
    }
    for (int i = handles.size() - 1; i >= 0; i--) {
      handles.get(i).close();
    }
    db.close();
    syncWrite.close();
    cfOptions.close();
    dbOptions.close();
    writeBuffers.close();
    blockCache.close();
    sstFiles.close();
  }
}
