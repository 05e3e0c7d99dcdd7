package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

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
    final int[] issued = new int[BLOCKS];
    final int[] acked = new int[BLOCKS];
    int[] flushed = new int[BLOCKS];
    final boolean[] busy = new boolean[BLOCKS];
    /** Writes in the order they were sent, as block * 2^32 + version: the journal's order on one connection. */
    final List<Long> sent = new ArrayList<>();
    final Random rnd;
    long ackCount;
    /** Ends {@link #run} at its next write, whatever its limits. */
    volatile boolean stopRequested;

    Writer(long seed) {
      rnd = new Random(seed);
    }

    static byte[] content(int block, int version) {
      ByteBuffer b = ByteBuffer.allocate(BLOCK);
      while (b.hasRemaining()) {
        b.putInt(block).putInt(version);
      }
      return b.array();
    }

    /** Runs until {@code stopAfter} acks; calls {@code atAck} once when {@code triggerAt} acks are reached. */
    void run(NbdTestClient c, long stopAfter, long triggerAt, Runnable atAck) throws InterruptedException {
      Semaphore window = new Semaphore(32);
      List<CompletableFuture<?>> all = new ArrayList<>();
      boolean triggered = false;
      int sinceFlush = 0;
      while (true) {
        synchronized (this) {
          if (ackCount >= stopAfter || c.closed().isDone() || stopRequested) {
            break;
          }
          if (!triggered && ackCount >= triggerAt) {
            triggered = true;
            atAck.run();
          }
        }
        if (!window.tryAcquire(10, TimeUnit.SECONDS)) {
          break; // the server is gone and will not answer
        }
        if (++sinceFlush == 200) {
          sinceFlush = 0;
          int[] snapshot;
          synchronized (this) {
            snapshot = acked.clone();
          }
          all.add(c.flush().whenComplete((v, e) -> {
            window.release();
            if (e == null) {
              synchronized (this) {
                for (int i = 0; i < BLOCKS; i++) {
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
            block = rnd.nextInt(BLOCKS);
          } while (busy[block]);
          busy[block] = true;
          version = ++issued[block];
          sent.add(((long) block << 32) | version);
        }
        int b = block;
        all.add(c.write((long) block * BLOCK, content(block, version)).whenComplete((v, e) -> {
          synchronized (this) {
            busy[b] = false;
            if (e == null) {
              acked[b] = Math.max(acked[b], version);
              ackCount++;
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

    /** Every block's version as the volume behind {@code c} holds it (0 = never written); checks each block is whole. */
    int[] versions(NbdTestClient c, String where) throws Exception {
      int[] out = new int[BLOCKS];
      for (int block = 0; block < BLOCKS; block++) {
        byte[] got = c.read((long) block * BLOCK, BLOCK).get(30, TimeUnit.SECONDS);
        ByteBuffer b = ByteBuffer.wrap(got);
        int version = b.getInt(4);
        if (version == 0 && b.getInt(0) == 0) {
          continue;
        }
        assertThat(got).as("%s: block %d is torn or foreign (offset 0x%x)", where, block, (long) block * BLOCK).isEqualTo(content(block, version));
        out[block] = version;
      }
      return out;
    }

    /**
     * Asserts {@code versions} is the state after exactly the first N writes sent, for some N: the
     * crash-consistency promise of a replica. Returns N.
     */
    synchronized int assertPrefix(int[] versions, String where) {
      java.util.Map<Long, Integer> index = new java.util.HashMap<>();
      for (int i = 0; i < sent.size(); i++) {
        index.put(sent.get(i), i);
      }
      int last = -1; // index of the newest write the replica contains
      for (int block = 0; block < BLOCKS; block++) {
        if (versions[block] > 0) {
          Integer at = index.get(((long) block << 32) | versions[block]);
          assertThat(at).as("%s: block %d holds version %d, never sent", where, block, versions[block]).isNotNull();
          last = Math.max(last, at);
        }
      }
      for (int block = 0; block < BLOCKS; block++) {
        Integer next = index.get(((long) block << 32) | (versions[block] + 1));
        int cut = last;
        assertThat(next == null || next > cut)
            .as("%s: not a prefix: block %d is at version %d although version %d (write #%d) was sent before write #%d, which the replica holds",
                where, block, versions[block], versions[block] + 1, next, cut)
            .isTrue();
      }
      return last + 1;
    }

    /** Checks every block of the volume behind {@code c} against what was acknowledged. */
    void verify(NbdTestClient c, String where) throws Exception {
      for (int block = 0; block < BLOCKS; block++) {
        byte[] got = c.read((long) block * BLOCK, BLOCK).get(30, TimeUnit.SECONDS);
        ByteBuffer b = ByteBuffer.wrap(got);
        int gotBlock = b.getInt(0);
        int version = b.getInt(4);
        if (version == 0 && gotBlock == 0) {
          assertThat(acked[block]).as("%s: block %d was acknowledged at version %d but reads as never written", where, block, acked[block]).isZero();
          continue;
        }
        assertThat(got).as("%s: block %d is torn or foreign (offset 0x%x)", where, block, (long) block * BLOCK).isEqualTo(content(block, version));
        assertThat(version).as("%s: block %d lost a write acknowledged before a completed FLUSH", where, block).isGreaterThanOrEqualTo(flushed[block]);
        assertThat(version).as("%s: block %d lost an acknowledged write", where, block).isGreaterThanOrEqualTo(acked[block]);
        assertThat(version).as("%s: block %d holds a version never issued", where, block).isLessThanOrEqualTo(issued[block]);
      }
    }
  }

  @Test
  void killingThePrimaryLosesNoAcknowledgedWriteAndTheReplicaConverges() throws Exception {
    long seed = Long.getLong("kagami.seed", System.nanoTime());
    System.out.println("CrashIT primary seed=" + seed);
    try (TwoSites sites = new TwoSites(dir, VOLUME).start()) {
      Writer w = killPrimaryUnderLoad(sites, seed, 3000 + new Random(seed).nextInt(3000));
      sites.primary.start();
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        w.verify(c, "primary after kill -9 and restart");
      }
      sites.primary.awaitStatus(s -> s.path("link").path("connected").asBoolean(), T, "link after restart");
      sites.awaitInSync(T);
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
        w.verify(c, "standby replica");
      }
      sites.assertReplicaIdentical();
    }
  }

  @Test
  void killingTheStandbyResumesFromItsLastDurableSequenceWithoutAFullCopy() throws Exception {
    long seed = Long.getLong("kagami.seed", System.nanoTime());
    System.out.println("CrashIT standby seed=" + seed);
    try (TwoSites sites = new TwoSites(dir, VOLUME).start()) {
      Writer w = new Writer(seed);
      long[] ackedBeforeKill = {0};
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        w.run(c, 12000, 4000, () -> {
          try {
            ackedBeforeKill[0] = TwoSites.vol0(sites.primary.status()).path("lastAckedByPeerSeq").asLong();
            sites.standby.kill9();
          } catch (Exception e) {
            throw new AssertionError(e);
          }
        });
      }
      assertThat(ackedBeforeKill[0]).as("standby had acknowledged something before the kill").isPositive();
      sites.standby.start();
      long durable = TwoSites.vol0(sites.standby.status()).path("lastJournaledSeq").asLong();
      assertThat(durable).as("standby journal after kill -9 keeps everything it acknowledged").isGreaterThanOrEqualTo(ackedBeforeKill[0]);
      sites.awaitInSync(T);
      long lastResume = TwoSites.vol0(sites.primary.status()).path("resumedFromSeq").asLong(-1);
      assertThat(lastResume).as("the primary resumed shipping after the standby's durable point, not from the start").isGreaterThanOrEqualTo(ackedBeforeKill[0]);
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
        w.verify(c, "standby replica after kill -9 and restart");
      }
      sites.assertReplicaIdentical();
    }
  }

  /** Writes versioned blocks through the primary and kill -9s it once {@code killAt} writes were acknowledged. */
  static Writer killPrimaryUnderLoad(TwoSites sites, long seed, long killAt) throws Exception {
    Writer w = new Writer(seed);
    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
      w.run(c, Long.MAX_VALUE, killAt, () -> {
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
