package io.kagami.journal;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.WriteBatch;
import org.rocksdb.WriteOptions;

/**
 * The journal's single writer thread (BookKeeper's force-write pattern): appends queue up while the
 * previous commit runs, then go to RocksDB as one {@link WriteBatch}; the WAL is synced once for
 * the whole group when any member asked for durability (NBD FUA/FLUSH, standby receive).
 *
 * <p>Ordering guarantee: operations are committed, their {@link AfterCommit} hooks run and their
 * futures complete in exactly the order they were queued. Callers queue under the lock that assigns
 * sequence numbers, so queue order is sequence order within every stream.
 *
 * <p>Fail-closed: after a failed RocksDB write every queued and later operation fails; nothing that
 * might not be in the journal is ever acknowledged. Running out of space is kept from reaching that
 * point: {@link SpaceGuard} refuses an append (as "no space") while the filesystem is down to its
 * reserve, before it has a sequence number, and admits again once space returns.
 */
final class GroupCommitter implements AutoCloseable {
  private static final System.Logger LOG = System.getLogger(GroupCommitter.class.getName());

  record Op(
      JournalStream stream,
      long seq,
      byte[] value,
      boolean sync,
      AfterCommit after,
      CompletableFuture<Long> done) {}

  private final RocksDB db;
  private final ColumnFamilyHandle metaFamily;
  private final int maxGroup;
  private final SpaceGuard space;

  /** Segment logs written to since their last force; journal thread only. */
  private final Set<JournalStream> unforced = new LinkedHashSet<>();

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition notEmpty = lock.newCondition();
  private final ArrayDeque<Op> queue = new ArrayDeque<>();
  private final WriteOptions noSync = new WriteOptions().setSync(false);
  private final WriteOptions sync = new WriteOptions().setSync(true);
  private final Thread thread;
  private final ExecutorService completer =
      Executors.newSingleThreadExecutor(
          Thread.ofPlatform().name("kagami-journal-after").daemon(true).factory());

  /** Forces segment files while the journal thread syncs the WAL. */
  private final ExecutorService forcer =
      Executors.newSingleThreadExecutor(
          Thread.ofPlatform().name("kagami-journal-force").daemon(true).factory());

  private boolean closing;
  private volatile JournalException failure;

  /** Completed, on the committer's thread, when {@link #failure} is first set. */
  private final java.util.concurrent.CompletableFuture<JournalException> broken =
      new java.util.concurrent.CompletableFuture<>();

  /**
   * Record bytes whose after-commit hooks (the primary's volume writes) have not run yet: the
   * acknowledgement does not wait for them, so without a bound a volume file slower than the
   * journal would pile committed payloads up in memory.
   */
  private final AtomicLong hookBacklog = new AtomicLong();

  private final long hookBacklogLimit;

  /**
   * Groups whose futures complete on the after-commit thread, behind their hooks; while any is
   * pending, later groups complete there too, so futures still complete in queue order. Journal
   * thread only (incremented), decremented on the after-commit thread.
   */
  private final AtomicLong lateGroups = new AtomicLong();

  /** Groups acknowledged late (after their hooks) so far: back-pressure events. */
  private final AtomicLong lateGroupsTotal = new AtomicLong();

  GroupCommitter(RocksDB db, ColumnFamilyHandle metaFamily, int maxGroup, SpaceGuard space) {
    this(db, metaFamily, maxGroup, space, Long.MAX_VALUE);
  }

  /**
   * {@code hookBacklogLimit}: record bytes of after-commit hooks that may wait to run; beyond it a
   * group is acknowledged only after its hooks ran (back-pressure on the writers: their replies
   * wait, instead of memory growing).
   */
  GroupCommitter(
      RocksDB db,
      ColumnFamilyHandle metaFamily,
      int maxGroup,
      SpaceGuard space,
      long hookBacklogLimit) {
    this.hookBacklogLimit = hookBacklogLimit;
    this.space = space;
    this.db = db;
    this.metaFamily = metaFamily;
    this.maxGroup = maxGroup;
    this.thread = Thread.ofPlatform().name("kagami-journal").daemon(true).unstarted(this::run);
  }

  void start() {
    thread.start();
  }

  ReentrantLock lock() {
    return lock;
  }

  /** Queues {@code op}; the caller holds {@link #lock()}. */
  void enqueueLocked(Op op) {
    JournalException f = failure;
    if (f != null) {
      op.done.completeExceptionally(f);
      return;
    }
    if (closing) {
      op.done.completeExceptionally(new JournalException("journal is closing"));
      return;
    }
    if (op.value != null) {
      // Refused before the caller gives it a sequence number: nothing to undo, and the next
      // append asks again (that is how appends resume once space returns).
      JournalException full = space.admit(op.value.length);
      if (full != null) {
        op.done.completeExceptionally(full);
        return;
      }
    }
    queue.add(op);
    notEmpty.signal();
  }

  JournalException failure() {
    return failure;
  }

  java.util.concurrent.CompletableFuture<JournalException> broken() {
    return broken;
  }

  /** Record bytes whose after-commit hooks have not run yet. */
  long hookBacklogBytes() {
    return hookBacklog.get();
  }

  /** Groups acknowledged only after their hooks ran, because the backlog was full. */
  long lateGroups() {
    return lateGroupsTotal.get();
  }

  /**
   * Why appends are refused for lack of space right now (a passing state), or null. A RocksDB write
   * that failed for space is a {@link #failure()} instead: it lasts until a restart.
   */
  String spaceRefusal() {
    return failure != null ? null : space.refusal();
  }

  private void run() {
    List<Op> group = new ArrayList<>();
    while (true) {
      lock.lock();
      try {
        while (queue.isEmpty() && !closing) {
          notEmpty.awaitUninterruptibly();
        }
        if (queue.isEmpty()) {
          return;
        }
        while (!queue.isEmpty() && group.size() < maxGroup) {
          group.add(queue.poll());
        }
      } finally {
        lock.unlock();
      }
      commit(group);
      group.clear();
    }
  }

  private void commit(List<Op> group) {
    boolean wantSync = false;
    // Once the group's write reached RocksDB its sequence numbers are spent, whatever fails: a
    // WAL write that failed half way is RocksDB's to recover, and only a restart replays it
    // safely.
    boolean toRocks = false;
    Set<JournalStream> touched = new LinkedHashSet<>();
    try (WriteBatch batch = new WriteBatch()) {
      JournalStream segmented = null;
      for (Op op : group) {
        wantSync |= op.sync;
      }
      for (Op op : group) {
        if (op.value != null) {
          byte[] stored = op.stream.segments().store(op.seq, op.value, wantSync);
          if (stored != op.value) {
            unforced.add(op.stream);
            if (segmented != op.stream && segmented != null) {
              segmented.segments().writeStored();
            }
            segmented = op.stream;
          }
          batch.put(op.stream.family(), Keys.encode(op.seq), stored);
        }
      }
      if (segmented != null) {
        // The group's segment records in one write, before RocksDB holds pointers to them.
        segmented.segments().writeStored();
      }
      if (failure != null) {
        throw failure;
      }
      Future<Map<JournalStream, Long>> forcing = null;
      if (wantSync && !unforced.isEmpty()) {
        // The segments' data is forced while the WAL holding the pointers to it is synced, and
        // the group completes once both are: a crash between the two leaves pointers whose data
        // may be missing, but only of a group nobody was told is durable, and open cuts history
        // at the first of them by its CRC (SegmentLog). In sequence, the two syncs doubled the
        // standby's commit latency.
        List<JournalStream> toForce = List.copyOf(unforced);
        unforced.clear();
        forcing = forcer.submit(() -> forceAll(toForce));
      }
      toRocks = true;
      if (batch.count() > 0) {
        db.write(wantSync ? sync : noSync, batch);
      } else if (wantSync) {
        db.flushWal(true);
      }
      if (forcing != null) {
        // Only now is the data known durable: recording the forced point lets open skip
        // re-checking it. Losing this unsynced note costs a longer check on open, nothing else.
        try (WriteBatch forced = new WriteBatch()) {
          for (Map.Entry<JournalStream, Long> e : awaitForced(forcing).entrySet()) {
            forced.put(
                metaFamily,
                Journal.metaKeyOf(e.getKey().volume(), JournalStream.META_SEGMENTS_FORCED),
                Keys.encode(e.getValue()));
          }
          db.write(noSync, forced);
        }
      }
    } catch (RocksDBException | IOException | RuntimeException e) {
      if (failure == null && !toRocks && Journal.isNoSpace(e)) {
        outOfSpace(group, e);
        return;
      }
      JournalException f =
          e instanceof JournalException je
              ? je
              : new JournalException(
                  "journal write failed: " + e.getMessage(), e, Journal.isNoSpace(e));
      if (failure == null) {
        failure = f;
        LOG.log(
            Level.ERROR,
            "journal write failed; refusing all further appends until the site is restarted: {0}",
            f.getMessage());
        broken.complete(f);
      }
      for (Op op : group) {
        op.done.completeExceptionally(f);
      }
      failQueued(f);
      return;
    }
    for (Op op : group) {
      if (op.value != null) {
        op.stream.committed(op.seq, op.value);
        touched.add(op.stream);
      }
    }
    for (JournalStream s : touched) {
      s.groupCommitted();
    }
    // Acknowledge first, here and in order: the host's reply no longer waits for a hand-off to
    // another thread or for the volume write. The hooks (the primary's volume write) then run on
    // a second thread, in order, so the next group's commit overlaps this group's volume writes.
    // Unless the hooks are too far behind (their share of the memory budget is full): then this
    // group is acknowledged after its hooks ran, and the writers wait for the volume file.
    List<Op> hooked = null;
    long hookedBytes = 0;
    for (Op op : group) {
      if (op.after != null) {
        if (hooked == null) {
          hooked = new ArrayList<>(group.size());
        }
        hooked.add(op);
        hookedBytes += op.value == null ? 0 : op.value.length;
      }
    }
    boolean late =
        lateGroups.get() > 0 || (hooked != null && hookBacklog.get() >= hookBacklogLimit);
    if (!late) {
      for (Op op : group) {
        op.done.complete(op.seq);
      }
    }
    if (hooked != null || late) {
      List<Op> run = hooked == null ? List.of() : hooked;
      List<Op> acknowledge = late ? List.copyOf(group) : List.of();
      long bytes = hookedBytes;
      hookBacklog.addAndGet(bytes);
      if (late) {
        lateGroups.incrementAndGet();
        lateGroupsTotal.incrementAndGet();
      }
      completer.execute(
          () -> {
            runHooks(run);
            hookBacklog.addAndGet(-bytes);
            if (late) {
              for (Op op : acknowledge) {
                op.done.complete(op.seq);
              }
              lateGroups.decrementAndGet();
            }
          });
    }
  }

  private static Map<JournalStream, Long> forceAll(List<JournalStream> streams) throws IOException {
    Map<JournalStream, Long> through = new HashMap<>();
    for (JournalStream s : streams) {
      through.put(s, s.segments().force());
    }
    return through;
  }

  private static Map<JournalStream, Long> awaitForced(Future<Map<JournalStream, Long>> forcing)
      throws IOException {
    try {
      return Uninterruptibly.get(forcing);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw new JournalException(
          "forcing journal segments failed: " + e.getCause(), e.getCause(), false);
    }
  }

  private static void runHooks(List<Op> ops) {
    for (Op op : ops) {
      try {
        op.after.committed(op.seq);
      } catch (RuntimeException e) {
        // The record is committed and acknowledged; the hook's owner must fail closed itself.
        LOG.log(Level.ERROR, "after-commit action of seq " + op.seq + " failed", e);
      }
    }
  }

  /**
   * The filesystem filled up under a group (another writer took the space after the reserve was
   * checked) while its records were written to segment files, before anything of it went to
   * RocksDB: so the group and everything queued behind it fail as "no space", each stream's next
   * sequence number goes back to just after what it holds, and the reserve check refuses appends
   * until space returns. Bytes a failed segment write left behind are referenced by no pointer and
   * are never read.
   */
  private void outOfSpace(List<Op> group, Exception e) {
    JournalException f = new JournalException("journal write failed: " + e.getMessage(), e, true);
    List<Op> rest;
    lock.lock();
    try {
      rest = new ArrayList<>(queue);
      queue.clear();
      Set<JournalStream> streams = new LinkedHashSet<>();
      for (Op op : group) {
        streams.add(op.stream);
      }
      for (Op op : rest) {
        streams.add(op.stream);
      }
      for (JournalStream s : streams) {
        s.abandonUncommitted();
      }
      space.refuse(
          "journal filesystem full ("
              + e.getMessage()
              + "); writes are refused with ENOSPC until space is freed");
    } finally {
      lock.unlock();
    }
    LOG.log(Level.ERROR, "journal write failed for lack of space: {0}", e.getMessage());
    for (Op op : group) {
      op.done.completeExceptionally(f);
    }
    for (Op op : rest) {
      op.done.completeExceptionally(f);
    }
  }

  private void failQueued(JournalException f) {
    List<Op> rest;
    lock.lock();
    try {
      rest = new ArrayList<>(queue);
      queue.clear();
    } finally {
      lock.unlock();
    }
    for (Op op : rest) {
      op.done.completeExceptionally(f);
    }
  }

  /** Commits what is queued, then stops the thread. */
  @Override
  public void close() {
    lock.lock();
    try {
      closing = true;
      notEmpty.signal();
    } finally {
      lock.unlock();
    }
    try {
      thread.join();
      completer.shutdown();
      forcer.shutdown();
      completer.awaitTermination(1, TimeUnit.MINUTES);
      forcer.awaitTermination(1, TimeUnit.MINUTES);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    noSync.close();
    sync.close();
  }
}
