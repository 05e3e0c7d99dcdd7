package io.kagami.wan;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.journal.JournalEntry;
import io.kagami.wan.receive.Receiver;
import io.kagami.wan.receive.ReceiverSnapshot;
import io.kagami.wan.ship.LinkSnapshot;
import io.kagami.wan.ship.ShipSource;
import io.kagami.wan.ship.Shipper;
import io.kagami.wan.ship.ShipperConfig;
import io.kagami.wan.testing.Catalog;
import io.kagami.wan.testing.LogCapture;
import io.kagami.wan.testing.MemorySink;
import io.kagami.wan.testing.MemorySource;
import io.kagami.wan.testing.Records;
import io.kagami.wan.testing.Sites;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A shipper and a receiver over real mutual TLS on loopback, with in-memory journals. */
class WanLinkTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final long SIZE = 1L << 30;

  @TempDir Path dir;
  private Sites sites;

  @BeforeEach
  void sites() {
    sites = new Sites(dir);
  }

  private static void await(CompletableFuture<?> f, String what) throws Exception {
    try {
      f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError(what + " did not happen within " + WAIT, e);
    }
  }

  @Test
  void tenThousandEntriesOfTwoVolumesArriveInOrderByteForByte() throws Exception {
    long seed = SystemTime.NANO.nanoTime();
    System.out.println("WanLinkTest seed " + seed);
    Random random = new Random(seed);
    MemorySource vol0 = new MemorySource("vol0", SIZE);
    MemorySource vol1 = new MemorySource("vol1", SIZE / 2);
    try (MemorySink sink0 = new MemorySink("vol0", SIZE);
        MemorySink sink1 = new MemorySink("vol1", SIZE / 2);
        // Heartbeats of 5 s: this test counts bytes and expects one connection, so a scheduling
        // stall
        // on a loaded machine must not end the link (heartbeat timeouts have tests of their own).
        Receiver receiver =
            new Receiver(
                sites.receiver().withHeartbeat(Duration.ofSeconds(5)),
                new Catalog().add("tokyo", sink0).add("tokyo", sink1))) {
      receiver.start();
      // Half is a backlog when the link comes up; the other half is written while it ships.
      vol0.append(Records.mixed(random, 2500));
      vol1.append(Records.mixed(random, 2500));
      try (Shipper shipper =
          new Shipper(
              sites.shipper(receiver.port()).withHeartbeat(Duration.ofSeconds(5)),
              List.<ShipSource>of(vol0, vol1))) {
        shipper.start();
        List<byte[]> live0 = Records.mixed(random, 2500);
        List<byte[]> live1 = Records.mixed(random, 2500);
        for (int i = 0; i < 2500; i += 50) {
          vol0.append(live0.subList(i, i + 50));
          vol1.append(live1.subList(i, i + 50));
        }
        await(
            sink0.awaitDurable(5000),
            "seed " + seed + ": vol0 durable through 5000 on the standby");
        await(
            sink1.awaitDurable(5000),
            "seed " + seed + ": vol1 durable through 5000 on the standby");
        await(vol0.awaitPeerDurable(5000), "vol0 acknowledged through 5000 on the primary");
        await(vol1.awaitPeerDurable(5000), "vol1 acknowledged through 5000 on the primary");

        assertThat(Records.difference("vol0", vol0.entries(), sink0.stored()))
            .as("seed %s", seed)
            .isNull();
        assertThat(Records.difference("vol1", vol1.entries(), sink1.stored()))
            .as("seed %s", seed)
            .isNull();
        assertThat(sink0.duplicates() + sink1.duplicates())
            .as("entries sent twice on a link that never broke")
            .isZero();
        for (MemorySource s : List.of(vol0, vol1)) {
          assertThat(s.peerDurableCalls())
              .as("%s acknowledgements", s.volume())
              .isSorted()
              .allMatch(seq -> seq <= 5000);
        }

        LinkSnapshot link = shipper.snapshot();
        assertThat(link.connected()).isTrue();
        assertThat(link.peerSiteId()).isEqualTo("hiroshima");
        assertThat(link.volumes()).containsOnlyKeys("vol0", "vol1");
        assertThat(link.volumes().get("vol0"))
            .usingRecursiveComparison()
            .ignoringFields("rawSendRateBytesPerSecond")
            .isEqualTo(new LinkSnapshot.VolumeProgress(5000, 5000, 0, null, 0));
        assertThat(link.volumes().get("vol1"))
            .usingRecursiveComparison()
            .ignoringFields("rawSendRateBytesPerSecond")
            .isEqualTo(new LinkSnapshot.VolumeProgress(5000, 5000, 0, null, 0));
        long raw = 0;
        for (MemorySource s : List.of(vol0, vol1)) {
          for (JournalEntry e : s.entries()) {
            raw += e.wireBytes();
          }
        }
        assertThat(link.rawBytes()).isEqualTo(raw);
        assertThat(link.wireBytes())
            .as("half the records are repetitive text: batches compress")
            .isPositive()
            .isLessThan(raw);
        assertThat(link.lastError()).isNull();

        ReceiverSnapshot standby = receiver.snapshot();
        assertThat(standby.peers())
            .extracting(ReceiverSnapshot.Peer::siteId)
            .containsExactly("tokyo");
        assertThat(standby.volumes())
            .containsExactly(
                new ReceiverSnapshot.Volume("tokyo", "vol0", 5000, true),
                new ReceiverSnapshot.Volume("tokyo", "vol1", 5000, true));
        assertThat(standby.rawBytesReceived()).isEqualTo(raw);
        assertThat(standby.wireBytesReceived()).isPositive();
        assertThat(receiver.connectedPeers()).containsExactly("tokyo");
      }
    }
  }

  @Test
  void aRestartedStandbyResumesFromItsDurableSequenceWithNothingResentOrLost() throws Exception {
    long seed = SystemTime.NANO.nanoTime();
    System.out.println("WanLinkTest seed " + seed);
    Random random = new Random(seed);
    MemorySource vol0 = new MemorySource("vol0", SIZE);
    MemorySource vol1 = new MemorySource("vol1", SIZE);
    vol0.append(Records.fixed(random, 4000, 1000));
    vol1.append(Records.fixed(random, 300, 1000));
    try (MemorySink sink0 = new MemorySink("vol0", SIZE);
        MemorySink sink1 = new MemorySink("vol1", SIZE);
        LogCapture log = new LogCapture(Shipper.class)) {
      Catalog catalog = new Catalog().add("tokyo", sink0).add("tokyo", sink1);
      sink0.holdAt(1500); // mid-stream: the batch reaching seq 1500 waits on the standby
      Receiver first = new Receiver(sites.receiver(), catalog);
      first.start();
      int port = first.port();
      // A window well below what follows seq 1500 keeps the stop mid-stream: the receiver hands
      // consecutive stores to the sink before the previous one completes (group commit), so what
      // it holds beyond the held store is bounded by what the primary may have unacknowledged.
      ShipperConfig narrow =
          sites
              .shipper(port)
              .withBatching(64 << 10, ShipperConfig.DEFAULT_MAX_BATCH_DELAY, 512 << 10);
      try (Shipper shipper = new Shipper(narrow, List.<ShipSource>of(vol0, vol1))) {
        shipper.start();
        await(sink0.held(), "the standby storing up to seq 1500");
        // Stop the standby while that store is under way: close() waits for it, and drops the
        // batches received after it.
        CompletableFuture<Void> stopped = CompletableFuture.runAsync(first::close);
        log.await(
            "WARNING WAN link to hiroshima", WAIT); // closed, or a write hit the closed socket
        sink0.release();
        await(stopped, "the first receiver closing");
        long durable = sink0.lastDurableSeq();
        int storesBefore = sink0.storeFirstSeqs().size();
        assertThat(durable).as("durable when the standby stopped").isBetween(1500L, 3999L);

        try (Receiver second = new Receiver(sites.receiver().withPort(port), catalog)) {
          second.start();
          await(sink0.awaitDurable(4000), "vol0 complete after the restart");
          await(sink1.awaitDurable(300), "vol1 complete after the restart");
          await(vol0.awaitPeerDurable(4000), "vol0 acknowledged through 4000");

          List<Long> after =
              sink0.storeFirstSeqs().subList(storesBefore, sink0.storeFirstSeqs().size());
          assertThat(after.get(0))
              .as("first seq shipped after the restart (the standby held %s)", durable)
              .isEqualTo(durable + 1);
          assertThat(sink0.duplicates())
              .as("entries the standby already held, sent again")
              .isZero();
          assertThat(Records.difference("vol0", vol0.entries(), sink0.stored()))
              .as("seed %s", seed)
              .isNull();
          assertThat(Records.difference("vol1", vol1.entries(), sink1.stored()))
              .as("seed %s", seed)
              .isNull();
          assertThat(shipper.snapshot().volumes().get("vol0").resumedFromSeq()).isEqualTo(durable);
          assertThat(vol0.peerDurableCalls()).isSorted();
        }
      }
    }
  }

  @Test
  void aFailedStoreClosesTheConnectionAndShippingResumesExactlyAfterWhatIsDurable()
      throws Exception {
    Random random = new Random(7);
    MemorySource vol0 = new MemorySource("vol0", SIZE);
    try (MemorySink sink0 = new MemorySink("vol0", SIZE);
        LogCapture log = new LogCapture(Receiver.class, Shipper.class);
        Receiver receiver = new Receiver(sites.receiver(), new Catalog().add("tokyo", sink0))) {
      receiver.start();
      vol0.append(Records.fixed(random, 100, 2000));
      try (Shipper shipper =
          new Shipper(sites.shipper(receiver.port()), List.<ShipSource>of(vol0))) {
        shipper.start();
        await(sink0.awaitDurable(100), "the first 100 entries");
        sink0.failNextStore("disk full");
        vol0.append(Records.fixed(random, 900, 2000));
        await(sink0.awaitDurable(1000), "all 1000 entries after the failure");

        assertThat(log.await("storing volume vol0", WAIT))
            .contains("disk full")
            .contains("closing the connection");
        assertThat(log.await("the standby refused the link: storing volume vol0", WAIT))
            .contains("disk full");
        assertThat(sink0.duplicates()).isZero();
        assertThat(Records.difference("vol0", vol0.entries(), sink0.stored())).isNull();
        await(vol0.awaitPeerDurable(1000), "vol0 acknowledged through 1000");
        assertThat(shipper.snapshot().lastError()).contains("disk full");
        assertThat(shipper.snapshot().lastErrorAt()).isNotNull();
        assertThat(receiver.snapshot().lastError()).contains("disk full");
      }
    }
  }
}
