package io.kagami.site.it;

import io.kagami.clock.SystemTime;
import io.kagami.site.it.GuestSites.Primary;
import io.kagami.testkit.nbd.NbdTestClient;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writers on the host that keep each primary's volume busy while a guest test does something else
 * (a drill on the DR site): one NBD connection per primary writing 64 KiB of random bytes into the
 * region of the volume that no guest uses ({@link GuestSites#SPARE_OFFSET} onwards), a write every
 * {@link #PACE} and a flush every 16 writes, each write acknowledged before the next. They stand
 * for the production servers' continuing writes where the test machine cannot run more guests (at
 * most two at once), and keep out of the guests' disks so that the guests' data stays as the guests
 * left it. Bounded: each stops by itself after {@link #MAX_WRITES}.
 */
final class HostWriters implements AutoCloseable {
  static final Duration PACE = Duration.ofMillis(100);
  static final int MAX_WRITES = 40_000;
  private static final int BLOCK = 64 << 10;
  private static final int SLOTS = (int) ((GuestSites.VOLUME - GuestSites.SPARE_OFFSET) / BLOCK);

  private final AtomicBoolean stop = new AtomicBoolean();
  private final AtomicLong acked = new AtomicLong();
  private volatile Instant lastAck;
  private final List<CompletableFuture<Void>> done = new ArrayList<>();
  private final List<NbdTestClient> clients = new ArrayList<>();

  private HostWriters() {}

  /** Starts one writer per primary, seeded with {@code seed} (printed by the caller). */
  static HostWriters start(Iterable<Primary> primaries, long seed) throws IOException {
    HostWriters w = new HostWriters();
    int i = 0;
    for (Primary p : primaries) {
      NbdTestClient c = NbdTestClient.connect("127.0.0.1", p.nbd(), p.volume());
      w.clients.add(c);
      Random rnd = new Random(seed + i++);
      CompletableFuture<Void> f = new CompletableFuture<>();
      w.done.add(f);
      Thread.ofPlatform()
          .name("host-writer-" + p.id())
          .daemon(true)
          .start(
              () -> {
                try {
                  byte[] data = new byte[BLOCK];
                  for (int n = 0; n < MAX_WRITES && !w.stop.get(); n++) {
                    rnd.nextBytes(data);
                    long offset = GuestSites.SPARE_OFFSET + (long) rnd.nextInt(SLOTS) * BLOCK;
                    c.write(offset, data).get(1, TimeUnit.MINUTES);
                    if (n % 16 == 15) {
                      c.flush().get(1, TimeUnit.MINUTES);
                    }
                    w.acked.incrementAndGet();
                    w.lastAck = SystemTime.WALL.instant();
                    SystemTime.pause(PACE);
                  }
                  c.flush().get(1, TimeUnit.MINUTES);
                  f.complete(null);
                } catch (Exception e) {
                  f.completeExceptionally(e);
                }
              });
    }
    return w;
  }

  /** Writes acknowledged so far, by all writers. */
  long acked() {
    return acked.get();
  }

  /** When the newest acknowledged write was acknowledged; null before the first. */
  Instant lastAck() {
    return lastAck;
  }

  /**
   * Waits (bounded) until {@code more} further writes were acknowledged; fails on a writer's error.
   */
  void awaitMore(long more, Duration timeout) throws Exception {
    long target = acked.get() + more;
    long deadline = SystemTime.NANO.nanoTime() + timeout.toNanos();
    while (acked.get() < target) {
      for (CompletableFuture<Void> f : done) {
        if (f.isCompletedExceptionally()) {
          f.get();
        }
      }
      if (SystemTime.NANO.nanoTime() - deadline > 0) {
        throw new AssertionError(
            "host writers acknowledged " + acked.get() + " writes, not " + target + " in time");
      }
      SystemTime.pause(PACE);
    }
  }

  /** Stops the writers; returns once each flushed its last write (failing with its error). */
  void stop() throws Exception {
    stop.set(true);
    for (CompletableFuture<Void> f : done) {
      f.get(2, TimeUnit.MINUTES);
    }
  }

  @Override
  public void close() {
    stop.set(true);
    for (NbdTestClient c : clients) {
      c.close();
    }
  }
}
