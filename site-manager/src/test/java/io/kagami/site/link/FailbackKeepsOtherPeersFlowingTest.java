package io.kagami.site.link;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.NanoClock;
import io.kagami.clock.SystemTime;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalRecord;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.lineage.DivergedHistory;
import io.kagami.replicator.lineage.Generations;
import io.kagami.replicator.lineage.SalvageHook;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.receive.LinkRefusedException;
import io.kagami.wan.receive.ReceiveSink;
import io.kagami.wan.receive.Receiver;
import io.kagami.wan.receive.ReceiverCatalog;
import io.kagami.wan.receive.ReceiverConfig;
import io.kagami.wan.ship.ShipSource;
import io.kagami.wan.ship.Shipper;
import io.kagami.wan.ship.ShipperConfig;
import io.kagami.wan.tls.SiteCredentials;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongConsumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One standby receives from two primaries through one receiver whose connections share a single
 * event loop: "tokyo" keeps writing to its vol0 while "osaka", promoted after a failover,
 * reconnects and this standby — osaka's old primary, run through {@code kagami failback} — saves
 * aside and discards its own writes after the fork. A fault seam holds that save until tokyo's
 * acknowledgements have kept flowing for {@link #SAVE_HELD} (or {@link #HOLD_LIMIT} passed), so the
 * save takes clearly longer than {@link #MAX_ACK_GAP}; tokyo must never go that long without an
 * acknowledgement meanwhile.
 *
 * <p>With the generation check on the event loop (as before storage answered with futures), the one
 * loop is held for the whole save: tokyo then gets no acknowledgement for about {@link #HOLD_LIMIT}
 * and the gap assertion fails.
 */
class FailbackKeepsOtherPeersFlowingTest {
  private static final String HOST = "127.0.0.1";
  private static final long SIZE = 64L << 20;

  /** The longest tokyo may go without an acknowledgement while osaka's failback saves. */
  private static final Duration MAX_ACK_GAP = Duration.ofMillis(1500);

  /** The save is held until tokyo's acknowledgements flowed this long since it began... */
  private static final Duration SAVE_HELD = Duration.ofSeconds(8);

  /** ...or, when they do not flow (an event loop blocked on the save), this long. */
  private static final Duration HOLD_LIMIT = Duration.ofSeconds(15);

  private static final Duration WAIT = Duration.ofSeconds(60);

  /** The fork: osaka was promoted at this seq; this site went on to {@link #DIVERGED_THROUGH}. */
  private static final long FORK = 100;

  private static final long DIVERGED_THROUGH = 600;
  private static final long OLD_GENERATION = 0x1111;
  private static final long NEW_GENERATION = 0x2222;

  private final NanoClock clock = SystemTime.NANO;

  @TempDir Path dir;

  @Test
  void aLongFailbackSaveDoesNotStallAnotherPeersAcknowledgements() throws Exception {
    SiteCredentials tokyo = SiteCredentials.loadOrCreate(dir.resolve("tls/tokyo"), "tokyo");
    SiteCredentials osaka = SiteCredentials.loadOrCreate(dir.resolve("tls/osaka"), "osaka");
    SiteCredentials hiroshima =
        SiteCredentials.loadOrCreate(dir.resolve("tls/hiroshima"), "hiroshima");
    AckTimes tokyoAcks = new AckTimes();
    HeldSave save = new HeldSave(tokyoAcks);
    try (Journal standbyJournal =
            Journal.open(JournalConfig.at(dir.resolve("hiroshima/journal")), SystemTime.WALL);
        Journal tokyoJournal =
            Journal.open(JournalConfig.at(dir.resolve("tokyo/journal")), SystemTime.WALL);
        FileVolume osakaReplica =
            FileVolume.openOrCreate(dir.resolve("hiroshima/osaka-vol0.img"), SIZE);
        FileVolume tokyoReplica =
            FileVolume.openOrCreate(dir.resolve("hiroshima/tokyo-vol0.img"), SIZE)) {
      // This site's vol0 as osaka's old primary left it: generation OLD through seq 600, of which
      // osaka (promoted at seq 100) never received 101..600.
      JournalStream osakaHistory = standbyJournal.stream("osaka-vol0");
      osakaHistory.putMeta(Generations.META_GENERATION, OLD_GENERATION);
      Random random = new Random(18);
      List<JournalEntry> own = new ArrayList<>();
      for (long seq = 1; seq <= DIVERGED_THROUGH; seq++) {
        own.add(JournalEntry.of(seq, write(random, (seq % 4096) * 4096)));
      }
      osakaHistory.appendReplicated(own).get(WAIT.toSeconds(), TimeUnit.SECONDS);
      Applier osakaApplier =
          new Applier(
              "osaka-vol0",
              osakaHistory,
              osakaReplica,
              SystemTime.WALL,
              Duration.ofSeconds(1),
              true);
      DivergedHistory diverged =
          new DivergedHistory(
              "osaka-vol0",
              SIZE,
              dir.resolve("hiroshima/saved"),
              dir.resolve("hiroshima/osaka-vol0.diverged"),
              dir.resolve("hiroshima/osaka-vol0.bitmap"),
              64 << 10,
              WanCodec.MAX_DIVERGED_RANGES,
              () -> true,
              save::ended,
              SystemTime.WALL,
              save);
      JournalStream tokyoReplicaJournal = standbyJournal.stream("tokyo-vol0");
      Applier tokyoApplier =
          new Applier(
              "tokyo-vol0",
              tokyoReplicaJournal,
              tokyoReplica,
              SystemTime.WALL,
              Duration.ofSeconds(1),
              true);
      // Both primaries call their volume "vol0": the catalog tells them apart by peer.
      Map<String, JournalReceiveSink> sinks =
          Map.of(
              "osaka/vol0",
                  new JournalReceiveSink(
                      "osaka-vol0", SIZE, osakaHistory, osakaApplier, osakaReplica, diverged),
              "tokyo/vol0",
                  new JournalReceiveSink(
                      "tokyo-vol0", SIZE, tokyoReplicaJournal, tokyoApplier, tokyoReplica));
      ReceiverCatalog catalog =
          (site, volume, size) -> {
            ReceiveSink sink = sinks.get(site + "/" + volume);
            if (sink == null) {
              throw new LinkRefusedException(
                  "volume " + volume + " of " + site + " is not replicated here");
            }
            return sink;
          };
      sinks.values().forEach(JournalReceiveSink::start);
      // One event loop for every connection, as when more peers connect than there are loops.
      ReceiverConfig rc =
          ReceiverConfig.defaults(
                  HOST, 0, hiroshima, List.of(tokyo.certificate(), osaka.certificate()))
              .withIoThreads(1);
      JournalStream tokyoVol0 = tokyoJournal.stream("vol0");
      try (Receiver receiver = new Receiver(rc, catalog)) {
        receiver.start();
        Writer writer = new Writer(tokyoVol0, tokyoAcks);
        try (Shipper tokyoShipper =
                new Shipper(
                    shipper(tokyo, hiroshima, receiver.port()),
                    List.<ShipSource>of(
                        new JournalShipSource("vol0", SIZE, tokyoVol0, null, tokyoAcks)));
            Shipper osakaShipper =
                new Shipper(
                    shipper(osaka, hiroshima, receiver.port()),
                    List.<ShipSource>of(new PromotedAtFork()))) {
          tokyoShipper.start();
          writer.start();
          writer.awaitAcks(20);
          osakaShipper.start(); // HELLO: generation NEW grown out of OLD at seq 100 → failback
          long saveNanos = save.done().get(WAIT.toSeconds(), TimeUnit.SECONDS);
          writer.awaitAcks(tokyoAcks.count() + 5); // tokyo goes on after the save too
          writer.stop();

          long gap = tokyoAcks.longestGap(save.startedAt(), save.startedAt() + saveNanos);
          System.out.printf(
              "osaka's failback save took %d ms; tokyo's longest time without an acknowledgement meanwhile: %d ms (bound %d ms)%n",
              saveNanos / 1_000_000, gap / 1_000_000, MAX_ACK_GAP.toMillis());
          assertThat(saveNanos)
              .as(
                  "osaka's failback saved its diverged history for %d ms: clearly longer than the bound of %d ms",
                  saveNanos / 1_000_000, MAX_ACK_GAP.toMillis())
              .isGreaterThan(4 * MAX_ACK_GAP.toNanos());
          assertThat(gap)
              .as(
                  "tokyo's vol0 went %d ms without an acknowledgement while osaka's failback saved its diverged history for %d ms (bound %d ms): an event loop waited on storage",
                  gap / 1_000_000, saveNanos / 1_000_000, MAX_ACK_GAP.toMillis())
              .isLessThan(MAX_ACK_GAP.toNanos());
        } finally {
          writer.stop();
        }
        // The failback itself happened: this site's writes after the fork are saved aside and gone.
        assertThat(osakaHistory.lastSeq())
            .as("the standby's osaka journal continues at the fork")
            .isEqualTo(FORK);
        assertThat(
                Files.readAllLines(
                        dir.resolve("hiroshima/saved/osaka-vol0-after-seq-" + FORK + ".txt"))
                    .stream()
                    .filter(l -> !l.startsWith("#"))
                    .count())
            .as("every discarded write is listed in the saved manifest")
            .isEqualTo(DIVERGED_THROUGH - FORK);
        assertThat(sinks.get("osaka/vol0").diverged())
            .as("the primary is told which ranges to copy back")
            .isNotEmpty();
        assertThat(Generations.of(osakaHistory).current()).isEqualTo(NEW_GENERATION);
        assertThat(tokyoReplicaJournal.lastSeq())
            .as("the standby holds every write tokyo had acknowledged")
            .isGreaterThanOrEqualTo(tokyoAcks.last());
      } finally {
        sinks.values().forEach(JournalReceiveSink::close);
        osakaApplier.close();
        tokyoApplier.close();
      }
    }
  }

  private static ShipperConfig shipper(SiteCredentials primary, SiteCredentials standby, int port) {
    return ShipperConfig.defaults(HOST, port, primary, standby.certificate())
        .withReconnect(Duration.ofMillis(10), Duration.ofMillis(200));
  }

  private static JournalRecord write(Random random, long offset) {
    byte[] data = new byte[4096];
    random.nextBytes(data);
    return new JournalRecord(
        JournalRecord.Kind.WRITE, offset, data.length, JournalRecord.Codec.NONE, data);
  }

  /** Osaka's vol0: promoted from generation OLD at the fork, nothing written since. */
  private static final class PromotedAtFork implements ShipSource {
    @Override
    public String volume() {
      return "vol0";
    }

    @Override
    public long sizeBytes() {
      return SIZE;
    }

    @Override
    public long lastSeq() {
      return FORK;
    }

    @Override
    public List<JournalEntry> read(long fromSeq, int maxBytes) {
      return List.of();
    }

    @Override
    public void peerDurable(long seq) {}

    @Override
    public void onAppend(Runnable wakeup) {}

    @Override
    public io.kagami.wan.ship.VolumeGeneration generation() {
      return new io.kagami.wan.ship.VolumeGeneration(NEW_GENERATION, OLD_GENERATION, FORK);
    }
  }

  /** When tokyo's acknowledgements arrive (on the shipper's threads). */
  private final class AckTimes implements LongConsumer {
    private final List<Long> times = new ArrayList<>(); // guarded by this
    private final TreeMap<Long, CompletableFuture<Void>> bySeq = new TreeMap<>(); // guarded by this
    private final TreeMap<Integer, CompletableFuture<Void>> byCount =
        new TreeMap<>(); // guarded by this
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    private long acked; // guarded by this

    @Override
    public void accept(long seq) {
      long now = clock.nanoTime();
      List<CompletableFuture<Void>> ready = new ArrayList<>();
      synchronized (this) {
        if (seq <= acked) {
          return; // told twice: on the network thread, then on the shipper's
        }
        acked = seq;
        times.add(now);
        while (!bySeq.isEmpty() && bySeq.firstKey() <= seq) {
          ready.add(bySeq.pollFirstEntry().getValue());
        }
        while (!byCount.isEmpty() && byCount.firstKey() <= times.size()) {
          ready.add(byCount.pollFirstEntry().getValue());
        }
      }
      ready.forEach(f -> f.complete(null));
      listeners.forEach(Runnable::run);
    }

    void listen(Runnable r) {
      listeners.add(r);
    }

    /** Completes once {@code seq} is acknowledged. */
    synchronized CompletableFuture<Void> acked(long seq) {
      return acked >= seq
          ? CompletableFuture.completedFuture(null)
          : bySeq.computeIfAbsent(seq, s -> new CompletableFuture<>());
    }

    /** Completes once there were {@code n} acknowledgements. */
    synchronized CompletableFuture<Void> count(int n) {
      return times.size() >= n
          ? CompletableFuture.completedFuture(null)
          : byCount.computeIfAbsent(n, c -> new CompletableFuture<>());
    }

    synchronized int count() {
      return times.size();
    }

    synchronized long last() {
      return acked;
    }

    /** The longest time within [from, to] with no acknowledgement. */
    synchronized long longestGap(long from, long to) {
      long previous = from;
      long longest = 0;
      for (long t : times) {
        if (t <= from) {
          continue;
        }
        if (t >= to) {
          break;
        }
        longest = Math.max(longest, t - previous);
        previous = t;
      }
      return Math.max(longest, to - previous);
    }
  }

  /**
   * The fault seam: the first diverged write to be saved waits until tokyo's acknowledgements have
   * flowed for {@link #SAVE_HELD} since the save began, or {@link #HOLD_LIMIT} passed.
   */
  private final class HeldSave implements SalvageHook {
    private final AckTimes acks;
    private final CompletableFuture<Void> release = new CompletableFuture<>();
    private final CompletableFuture<Long> done = new CompletableFuture<>();
    private volatile long startedAt;
    private volatile boolean started;

    HeldSave(AckTimes acks) {
      this.acks = acks;
    }

    @Override
    public void saving(long seq) {
      if (started) {
        return;
      }
      startedAt = clock.nanoTime();
      started = true;
      acks.listen(
          () -> {
            if (clock.nanosSince(startedAt) >= SAVE_HELD.toNanos()) {
              release.complete(null);
            }
          });
      try {
        release.get(HOLD_LIMIT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException e) {
        // Nothing acknowledged tokyo for the whole hold: the test fails on the gap.
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (ExecutionException e) {
        throw new IllegalStateException(e);
      }
    }

    /** The histories are one line again: the save (and discard) is over. */
    void ended() {
      if (started) {
        done.complete(clock.nanosSince(startedAt));
      }
    }

    long startedAt() {
      return startedAt;
    }

    /** Completes with how long the save took, in nanoseconds. */
    CompletableFuture<Long> done() {
      return done;
    }
  }

  /** Tokyo's host: one 4 KiB write at a time, the next once the standby acknowledged it. */
  private final class Writer {
    private final JournalStream stream;
    private final AckTimes acks;
    private final Random random = new Random(7);
    private final CompletableFuture<Void> stop = new CompletableFuture<>();
    private final CompletableFuture<Void> stopped = new CompletableFuture<>();
    private final Thread thread;

    Writer(JournalStream stream, AckTimes acks) {
      this.stream = stream;
      this.acks = acks;
      this.thread = Thread.ofPlatform().name("tokyo-writer").daemon(true).unstarted(this::run);
    }

    void start() {
      thread.start();
    }

    private void run() {
      try {
        for (long offset = 0; !stop.isDone(); offset = (offset + 4096) % SIZE) {
          long seq =
              stream
                  .append(write(random, offset), false, null)
                  .get(WAIT.toSeconds(), TimeUnit.SECONDS);
          CompletableFuture.anyOf(acks.acked(seq), stop).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        }
        stopped.complete(null);
      } catch (Exception e) {
        stopped.completeExceptionally(e);
      }
    }

    /** Waits until tokyo has had {@code n} acknowledgements; fails when the writer failed. */
    void awaitAcks(int n) throws Exception {
      CompletableFuture.anyOf(acks.count(n), stopped).get(WAIT.toSeconds(), TimeUnit.SECONDS);
      assertThat(stopped).as("tokyo's writer is still writing").isNotDone();
    }

    void stop() throws Exception {
      stop.complete(null);
      if (thread.getState() != Thread.State.NEW) {
        stopped.get(WAIT.toSeconds(), TimeUnit.SECONDS);
      }
    }
  }
}
