package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.testkit.nbd.NbdTestClient;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 of either site under sustained writes. The writer never has two writes to one block in
 * flight, so for every block the highest acknowledged version is well defined; each block carries
 * its number and version in every byte, so a torn or stale block is detected.
 */
class CrashIT {
  private static final int BLOCK = 4096;
  private static final long VOLUME = 64L << 20;
  private static final int BLOCKS = (int) (VOLUME / BLOCK);
  private static final Duration T = Duration.ofMinutes(3);
  @TempDir Path dir;

  /** Writes versioned blocks until {@code stopAfter} acknowledgements or the connection dies. */
  static final class Writer {
    /**
     * Blocks 0 .. blocks-1 of the volume are the writer's; the rest is left to others (ChaosIT's
     * probe).
     */
    final int blocks;

    final int[] issued;
    final int[] acked;
    int[] flushed;
    final boolean[] busy;

    /**
     * Writes in the order they were sent, as block * 2^32 + version: the journal's order on one
     * connection.
     */
    final List<Long> sent = new ArrayList<>();

    final Random rnd;
    long ackCount;

    /** Writes that failed, by reason (a kill cuts off those in flight; anything else is news). */
    final java.util.Map<String, Long> failures = new java.util.TreeMap<>();

    /** Set when a write failed because the connection ended; guarded by this. */
    private boolean connectionLost;

    /**
     * Set by {@link #stop()}: {@link #run} sends nothing more and returns once its writes
     * completed.
     */
    private volatile boolean stopped;

    /** Writes (and flushes) in flight at most. */
    int window = 32;

    /**
     * How long {@link #run} waits for a free slot in the window before it takes the server for
     * gone.
     */
    Duration patience = Duration.ofSeconds(10);

    Writer(long seed) {
      this(seed, BLOCKS);
    }

    Writer(long seed, int blocks) {
      rnd = new Random(seed);
      this.blocks = blocks;
      issued = new int[blocks];
      acked = new int[blocks];
      flushed = new int[blocks];
      busy = new boolean[blocks];
    }

    /** Ends {@link #run} (from another thread): no further writes are sent. */
    void stop() {
      stopped = true;
    }

    /** Undoes {@link #stop()}: the next {@link #run} writes again. */
    void resume() {
      stopped = false;
    }

    /**
     * Waits (bounded) until {@code target} writes are acknowledged in all; returns whether they
     * were. Woken by every acknowledgement, not by polling.
     */
    synchronized boolean awaitAcks(long target, Duration timeout) throws InterruptedException {
      long deadline = SystemTime.NANO.nanoTime() + timeout.toNanos();
      while (ackCount < target) {
        long left = deadline - SystemTime.NANO.nanoTime();
        if (left <= 0) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
      return true;
    }

    static byte[] content(int block, int version) {
      ByteBuffer b = ByteBuffer.allocate(BLOCK);
      while (b.hasRemaining()) {
        b.putInt(block).putInt(version);
      }
      return b.array();
    }

    /**
     * Runs until {@code stopAfter} acks; calls {@code atAck} once when {@code triggerAt} acks are
     * reached.
     */
    void run(NbdTestClient c, long stopAfter, long triggerAt, Runnable atAck)
        throws InterruptedException {
      synchronized (this) {
        connectionLost = false;
      }
      Semaphore window = new Semaphore(this.window);
      List<CompletableFuture<?>> all = new ArrayList<>();
      boolean triggered = false;
      int sinceFlush = 0;
      while (true) {
        synchronized (this) {
          if (stopped || connectionLost || ackCount >= stopAfter || c.closed().isDone()) {
            break;
          }
          if (!triggered && ackCount >= triggerAt) {
            triggered = true;
            atAck.run();
          }
        }
        if (!window.tryAcquire(patience.toNanos(), TimeUnit.NANOSECONDS)) {
          break; // the server is gone and will not answer
        }
        if (++sinceFlush == 200) {
          sinceFlush = 0;
          int[] snapshot;
          synchronized (this) {
            snapshot = acked.clone();
          }
          all.add(
              c.flush()
                  .whenComplete(
                      (v, e) -> {
                        window.release();
                        if (e == null) {
                          synchronized (this) {
                            for (int i = 0; i < blocks; i++) {
                              flushed[i] = Math.max(flushed[i], snapshot[i]);
                            }
                          }
                        }
                      }));
          continue;
        }
        int block;
        int version;
        synchronized (this) {
          do {
            block = rnd.nextInt(blocks);
          } while (busy[block]);
          busy[block] = true;
          version = ++issued[block];
          sent.add(((long) block << 32) | version);
        }
        int b = block;
        all.add(
            c.write((long) block * BLOCK, content(block, version))
                .whenComplete(
                    (v, e) -> {
                      synchronized (this) {
                        busy[b] = false;
                        if (e == null) {
                          acked[b] = Math.max(acked[b], version);
                          ackCount++;
                          notifyAll();
                        } else {
                          Throwable cause = e.getCause() == null ? e : e.getCause();
                          failures.merge(String.valueOf(cause), 1L, Long::sum);
                          if (cause instanceof io.kagami.testkit.nbd.NbdErrorException) {
                            // The server answered with an error (e.g. ENOSPC on a full
                            // journal): Kagami refuses a write before it journals it, so it
                            // never happened and is not part of the issue order.
                            sent.remove(Long.valueOf(((long) b << 32) | version));
                          }
                          // The connection is gone (its pending writes fail before closed()
                          // completes):
                          // stop at once rather than send writes that can only fail.
                          connectionLost |=
                              !(cause instanceof io.kagami.testkit.nbd.NbdErrorException);
                        }
                      }
                      window.release();
                    }));
      }
      try {
        CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      } catch (Exception ignored) {
        // writes cut off by a kill fail; what matters is what was acknowledged
      }
    }

    /**
     * Every block's version as the volume behind {@code c} holds it (0 = never written); checks
     * each block is whole.
     */
    int[] versions(NbdTestClient c, String where) throws Exception {
      int[] out = new int[blocks];
      for (int block = 0; block < blocks; block++) {
        byte[] got = c.read((long) block * BLOCK, BLOCK).get(30, TimeUnit.SECONDS);
        ByteBuffer b = ByteBuffer.wrap(got);
        int version = b.getInt(4);
        if (version == 0 && b.getInt(0) == 0) {
          continue;
        }
        assertThat(got)
            .as("%s: block %d is torn or foreign (offset 0x%x)", where, block, (long) block * BLOCK)
            .isEqualTo(content(block, version));
        out[block] = version;
      }
      return out;
    }

    /**
     * Asserts {@code versions} is the state after exactly the first N writes sent, for some N: the
     * crash-consistency promise of a replica. Returns N. A block's versions need not be consecutive
     * in {@link #sent}: a write lost in a primary crash can be dropped from it ({@link
     * #forgetUnless}), and the next write to that block then skips its version.
     */
    synchronized int assertPrefix(int[] versions, String where) {
      java.util.Map<Long, Integer> index = new java.util.HashMap<>();
      int[] next = new int[blocks]; // index of the first write sent after the version held, or -1
      java.util.Arrays.fill(next, -1);
      for (int i = 0; i < sent.size(); i++) {
        long w = sent.get(i);
        int block = (int) (w >>> 32);
        int version = (int) w;
        index.put(w, i);
        if (next[block] < 0 && version > versions[block]) {
          next[block] = i;
        }
      }
      int last = -1; // index of the newest write the replica contains
      for (int block = 0; block < blocks; block++) {
        if (versions[block] > 0) {
          Integer at = index.get(((long) block << 32) | versions[block]);
          assertThat(at)
              .as("%s: block %d holds version %d, never sent", where, block, versions[block])
              .isNotNull();
          last = Math.max(last, at);
        }
      }
      for (int block = 0; block < blocks; block++) {
        int cut = last;
        int n = next[block];
        assertThat(n < 0 || n > cut)
            .as(
                "%s: not a prefix: block %d is at version %d although write #%d to it (version %d) was sent before write #%d, which the replica holds",
                where, block, versions[block], n, n < 0 ? 0 : (int) (long) sent.get(n), cut)
            .isTrue();
      }
      return last + 1;
    }

    /**
     * After a crash of the volume's only writer site: drops from {@link #sent} every write that is
     * not in {@code survived} (the versions the restarted site holds), so the issue order is the
     * order of what exists. Only unacknowledged writes can be dropped: the caller has verified that
     * every acknowledged one survived. Returns how many were dropped.
     */
    synchronized int forgetUnless(int[] survived) {
      int before = sent.size();
      sent.removeIf(w -> (int) (long) w > survived[(int) (w >>> 32)]);
      return before - sent.size();
    }

    /** Checks every block of the volume behind {@code c} against what was acknowledged. */
    void verify(NbdTestClient c, String where) throws Exception {
      for (int block = 0; block < blocks; block++) {
        byte[] got = c.read((long) block * BLOCK, BLOCK).get(30, TimeUnit.SECONDS);
        ByteBuffer b = ByteBuffer.wrap(got);
        int gotBlock = b.getInt(0);
        int version = b.getInt(4);
        if (version == 0 && gotBlock == 0) {
          assertThat(acked[block])
              .as(
                  "%s: block %d was acknowledged at version %d but reads as never written",
                  where, block, acked[block])
              .isZero();
          continue;
        }
        assertThat(got)
            .as("%s: block %d is torn or foreign (offset 0x%x)", where, block, (long) block * BLOCK)
            .isEqualTo(content(block, version));
        assertThat(version)
            .as("%s: block %d lost a write acknowledged before a completed FLUSH", where, block)
            .isGreaterThanOrEqualTo(flushed[block]);
        assertThat(version)
            .as("%s: block %d lost an acknowledged write", where, block)
            .isGreaterThanOrEqualTo(acked[block]);
        assertThat(version)
            .as("%s: block %d holds a version never issued", where, block)
            .isLessThanOrEqualTo(issued[block]);
      }
    }
  }

  @Test
  void killingThePrimaryLosesNoAcknowledgedWriteAndTheReplicaConverges() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("CrashIT primary seed=" + seed);
    try (TwoSites sites = new TwoSites(dir, VOLUME).start()) {
      Writer w = killPrimaryUnderLoad(sites, seed, 3000 + new Random(seed).nextInt(3000));
      sites.primary.start();
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        w.verify(c, "primary after kill -9 and restart");
      }
      sites.primary.awaitStatus(
          s -> s.path("link").path("connected").asBoolean(), T, "link after restart");
      sites.awaitInSync(T);
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
        w.verify(c, "standby replica");
      }
      sites.assertReplicaIdentical();
    }
  }

  @Test
  void killingTheStandbyResumesFromItsLastDurableSequenceWithoutAFullCopy() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("CrashIT standby seed=" + seed);
    try (TwoSites sites = new TwoSites(dir, VOLUME).start()) {
      Writer w = new Writer(seed);
      long[] ackedBeforeKill = {0};
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        w.run(
            c,
            12000,
            4000,
            () -> {
              try {
                ackedBeforeKill[0] =
                    TwoSites.vol0(sites.primary.status()).path("lastAckedByPeerSeq").asLong();
                sites.standby.kill9();
              } catch (Exception e) {
                throw new AssertionError(e);
              }
            });
      }
      assertThat(ackedBeforeKill[0])
          .as("standby had acknowledged something before the kill")
          .isPositive();
      sites.standby.start();
      long durable = TwoSites.vol0(sites.standby.status()).path("lastJournaledSeq").asLong();
      assertThat(durable)
          .as("standby journal after kill -9 keeps everything it acknowledged")
          .isGreaterThanOrEqualTo(ackedBeforeKill[0]);
      sites.awaitInSync(T);
      long lastResume = TwoSites.vol0(sites.primary.status()).path("resumedFromSeq").asLong(-1);
      assertThat(lastResume)
          .as("the primary resumed shipping after the standby's durable point, not from the start")
          .isGreaterThanOrEqualTo(ackedBeforeKill[0]);
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
        w.verify(c, "standby replica after kill -9 and restart");
      }
      sites.assertReplicaIdentical();
    }
  }

  /**
   * Writes versioned blocks through the primary and kill -9s it once {@code killAt} writes were
   * acknowledged.
   */
  static Writer killPrimaryUnderLoad(TwoSites sites, long seed, long killAt) throws Exception {
    Writer w = new Writer(seed);
    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
      w.run(
          c,
          Long.MAX_VALUE,
          killAt,
          () -> {
            try {
              sites.primary.kill9();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          });
    } catch (java.io.IOException ignored) {
      // closing a dead connection
    }
    assertThat(w.ackCount).isGreaterThanOrEqualTo(killAt);
    return w;
  }
}
