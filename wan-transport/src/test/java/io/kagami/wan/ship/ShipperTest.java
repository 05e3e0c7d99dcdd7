package io.kagami.wan.ship;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.testing.FakeStandby;
import io.kagami.wan.testing.LogCapture;
import io.kagami.wan.testing.MemorySource;
import io.kagami.wan.testing.Records;
import io.kagami.wan.testing.Sites;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipper against a standby the test plays frame by frame. A HEARTBEAT from the shipper proves
 * it has had nothing to send for a heartbeat interval: that is how these tests see it hold back,
 * without sleeping.
 */
class ShipperTest {
  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final Duration HEARTBEAT = Duration.ofMillis(200);
  private static final int ENTRY = 1000; // payload; 1028 bytes per entry in a batch

  @TempDir Path dir;
  private Sites sites;
  private FakeStandby standby;
  private LogCapture log;

  @BeforeEach
  void setUp() {
    sites = new Sites(dir);
    standby = new FakeStandby(sites.hiroshima, sites.tokyo.certificate());
    log = new LogCapture(Shipper.class);
  }

  @AfterEach
  void tearDown() {
    log.close();
    standby.close();
  }

  private ShipperConfig config(int maxBatchBytes, Duration maxBatchDelay, int windowBytes) {
    return sites
        .shipper(standby.port())
        .withBatching(maxBatchBytes, maxBatchDelay, windowBytes)
        .withHeartbeat(HEARTBEAT);
  }

  private void welcome(long... resume) throws InterruptedException {
    WanMessage.Hello hello = standby.next(WanMessage.Hello.class, WAIT);
    assertThat(hello.siteId()).isEqualTo("tokyo");
    WanMessage.VolumeResume[] r = new WanMessage.VolumeResume[resume.length];
    for (int i = 0; i < resume.length; i++) {
      r[i] = new WanMessage.VolumeResume(hello.volumes().get(i).name(), resume[i]);
    }
    standby.send(new WanMessage.Welcome("hiroshima", List.of(r)));
  }

  @Test
  void theWindowBoundsUnacknowledgedBytesAndAnAckReleasesIt() throws Exception {
    MemorySource vol0 = new MemorySource("vol0", 1 << 30);
    vol0.append(Records.fixed(new Random(1), 200, ENTRY));
    try (Shipper shipper = new Shipper(config(4096, Duration.ZERO, 16384), List.of(vol0))) {
      shipper.start();
      welcome(0);
      long bytes = 0;
      long next = 1;
      WanMessage m;
      while (!((m = standby.next(WAIT)) instanceof WanMessage.Heartbeat)) {
        WanMessage.Batch b = (WanMessage.Batch) m;
        assertThat(b.firstSeq()).as("batches follow each other").isEqualTo(next);
        assertThat(b.rawBytes()).as("batch size").isLessThanOrEqualTo(4096);
        next = b.lastSeq() + 1;
        bytes += b.rawBytes();
      }
      assertThat(bytes)
          .as("unacknowledged bytes when the shipper went quiet")
          .isBetween(16384L, 16384L + 4096);
      assertThat(shipper.snapshot().volumes().get("vol0").lastSentSeq()).isEqualTo(next - 1);

      standby.send(new WanMessage.Ack("vol0", 3));
      WanMessage.Batch more = standby.next(WanMessage.Batch.class, WAIT);
      assertThat(more.firstSeq()).isEqualTo(next);
      vol0.awaitPeerDurable(3).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(shipper.snapshot().volumes().get("vol0").lastAckedSeq()).isEqualTo(3);
    }
  }

  @Test
  void aLoneWriteOnAnIdleLinkGoesAtOnceWhileOneBehindAnUnackedBatchWaits() throws Exception {
    MemorySource vol0 = new MemorySource("vol0", 1 << 30);
    Random random = new Random(2);
    try (Shipper shipper =
        new Shipper(config(1 << 20, Duration.ofHours(1), 16 << 20), List.of(vol0))) {
      shipper.start();
      welcome(0);
      vol0.append(Records.fixed(random, 1, 512));
      assertThat(standby.next(WanMessage.Batch.class, WAIT).lastSeq())
          .as("nothing in flight: no reason to wait")
          .isEqualTo(1);

      vol0.append(Records.fixed(random, 1, 512));
      standby.next(WanMessage.Heartbeat.class, WAIT);
      standby.next(
          WanMessage.Heartbeat.class,
          WAIT); // seq 2 waits for company while seq 1 is unacknowledged

      standby.send(new WanMessage.Ack("vol0", 1));
      WanMessage.Batch second = standby.next(WanMessage.Batch.class, WAIT);
      assertThat(second.firstSeq()).isEqualTo(2);
      assertThat(second.lastSeq()).isEqualTo(2);
    }
  }

  @Test
  void shippingStartsRightAfterTheStandbysDurablePoint() throws Exception {
    MemorySource vol0 = new MemorySource("vol0", 1 << 30);
    vol0.append(Records.fixed(new Random(3), 10, ENTRY));
    try (Shipper shipper = new Shipper(config(1 << 20, Duration.ZERO, 16 << 20), List.of(vol0))) {
      shipper.start();
      welcome(6);
      WanMessage.Batch b = standby.next(WanMessage.Batch.class, WAIT);
      assertThat(b.firstSeq()).isEqualTo(7);
      assertThat(b.lastSeq()).isEqualTo(10);
      vol0.awaitPeerDurable(6).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
      assertThat(vol0.peerDurableCalls()).containsExactly(6L);
      assertThat(shipper.snapshot().volumes().get("vol0"))
          .usingRecursiveComparison()
          .ignoringFields("rawSendRateBytesPerSecond")
          .isEqualTo(new LinkSnapshot.VolumeProgress(10, 6, 6, null, 0));
    }
  }

  @Test
  void aJournalTrimmedBelowTheResumePointStallsThatVolumeAndShipsNoGarbage() throws Exception {
    MemorySource vol0 = new MemorySource("vol0", 1 << 30);
    MemorySource vol1 = new MemorySource("vol1", 1 << 30);
    Random random = new Random(4);
    vol0.append(Records.fixed(random, 10, ENTRY));
    vol0.trimThrough(5);
    vol1.append(Records.fixed(random, 3, ENTRY));
    try (Shipper shipper =
        new Shipper(config(1 << 20, Duration.ZERO, 16 << 20), List.of(vol0, vol1))) {
      shipper.start();
      welcome(2, 0);
      WanMessage.Batch b = standby.next(WanMessage.Batch.class, WAIT);
      assertThat(b.volume()).as("only the healthy volume ships").isEqualTo("vol1");
      assertThat(b.lastSeq()).isEqualTo(3);
      standby.next(WanMessage.Heartbeat.class, WAIT);

      String why =
          "the standby needs volume vol0 from seq 3, but the journal's oldest entry is seq 6 (trimmed): the standby must be re-seeded";
      LinkSnapshot s = shipper.snapshot();
      assertThat(s.connected()).isTrue();
      assertThat(s.volumes().get("vol0").stalled()).isEqualTo(why);
      assertThat(s.volumes().get("vol0").lastSentSeq()).isEqualTo(2);
      assertThat(s.lastError()).isEqualTo(why);
      assertThat(log.await("oldest entry is seq 6", WAIT)).startsWith("WARNING");
    }
  }

  @Test
  void aStandbyAheadOfThePrimaryIsReportedAsDivergedAndNeverAcknowledged() throws Exception {
    MemorySource vol0 = new MemorySource("vol0", 1 << 30);
    vol0.append(Records.fixed(new Random(5), 10, ENTRY));
    try (Shipper shipper = new Shipper(config(1 << 20, Duration.ZERO, 16 << 20), List.of(vol0))) {
      shipper.start();
      welcome(50);
      standby.next(WanMessage.Heartbeat.class, WAIT);
      vol0.append(Records.fixed(new Random(6), 45, ENTRY));
      standby.next(WanMessage.Heartbeat.class, WAIT);
      standby.next(WanMessage.Heartbeat.class, WAIT);
      assertThat(shipper.snapshot().volumes().get("vol0").stalled())
          .contains("through seq 50 but this primary's journal ends at seq 10")
          .contains("diverged");
      assertThat(vol0.peerDurableCalls())
          .as("a diverged standby's durable point is not passed to the journal")
          .isEmpty();
    }
  }

  @Test
  void anAckBeyondWhatWasSentDropsTheConnectionAndTheShipperReconnects() throws Exception {
    MemorySource vol0 = new MemorySource("vol0", 1 << 30);
    vol0.append(Records.fixed(new Random(7), 3, ENTRY));
    try (Shipper shipper = new Shipper(config(1 << 20, Duration.ZERO, 16 << 20), List.of(vol0))) {
      shipper.start();
      welcome(0);
      assertThat(standby.next(WanMessage.Batch.class, WAIT).lastSeq()).isEqualTo(3);
      standby.send(new WanMessage.Ack("vol0", 99));
      assertThat(standby.awaitDisconnect(WAIT)).isTrue();
      assertThat(log.await("acknowledged volume vol0 through seq 99", WAIT))
          .contains("but only seq 3 was sent");
      assertThat(vol0.peerDurable()).isZero();

      welcome(3); // the shipper is back, and resumes after what this WELCOME says
      standby.next(WanMessage.Heartbeat.class, WAIT);
      assertThat(vol0.peerDurable()).isEqualTo(3);
      assertThat(shipper.snapshot().connected()).isTrue();
    }
  }

  @Test
  void aWelcomeFromAnotherSiteIsRejected() throws Exception {
    MemorySource vol0 = new MemorySource("vol0", 1 << 30);
    try (Shipper shipper = new Shipper(config(1 << 20, Duration.ZERO, 16 << 20), List.of(vol0))) {
      shipper.start();
      standby.next(WanMessage.Hello.class, WAIT);
      standby.send(
          new WanMessage.Welcome("osaka", List.of(new WanMessage.VolumeResume("vol0", 0))));
      assertThat(log.await("calls itself", WAIT))
          .contains("the standby calls itself \"osaka\" but its certificate is for \"hiroshima\"");
      assertThat(shipper.snapshot().connected()).isFalse();
    }
  }

  @Test
  void aSwitchoverTheStandbyRefusesFailsAsRefusedAndOneOnADownLinkAsNeverSent() throws Exception {
    MemorySource vol0 = new MemorySource("vol0", 1 << 30);
    vol0.append(Records.fixed(new Random(8), 3, ENTRY));
    try (Shipper shipper = new Shipper(config(1 << 20, Duration.ZERO, 16 << 20), List.of(vol0))) {
      CompletableFuture<Void> down = shipper.handover(Map.of("vol0", 3L));
      assertThatThrownBy(() -> down.get(WAIT.toMillis(), TimeUnit.MILLISECONDS))
          .cause()
          .isInstanceOfSatisfying(
              HandoverException.class,
              e ->
                  assertThat(e.kind())
                      .as("a link that is not up")
                      .isEqualTo(HandoverException.Kind.NOT_SENT));

      shipper.start();
      welcome(0);
      assertThat(standby.next(WanMessage.Batch.class, WAIT).lastSeq()).isEqualTo(3);
      standby.send(new WanMessage.Ack("vol0", 3));
      vol0.awaitPeerDurable(3).get(WAIT.toMillis(), TimeUnit.MILLISECONDS);

      CompletableFuture<Void> refused = shipper.handover(Map.of("vol0", 3L));
      assertThat(standby.next(WanMessage.Handover.class, WAIT).volumes())
          .containsExactly(new WanMessage.VolumeEnd("vol0", 3));
      standby.send(new WanMessage.Refuse("volume vol0 is resynchronizing"));
      assertThatThrownBy(() -> refused.get(WAIT.toMillis(), TimeUnit.MILLISECONDS))
          .cause()
          .hasMessage("the standby refused: volume vol0 is resynchronizing")
          .isInstanceOfSatisfying(
              HandoverException.class,
              e -> assertThat(e.kind()).isEqualTo(HandoverException.Kind.REFUSED));
    }
  }

  @Test
  void startsOnceAndClosesIdempotently() {
    MemorySource vol0 = new MemorySource("vol0", 1 << 30);
    Shipper never = new Shipper(config(1 << 20, Duration.ZERO, 16 << 20), List.of(vol0));
    never.close();
    never.close();
    assertThatThrownBy(never::start)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");

    Shipper s = new Shipper(config(1 << 20, Duration.ZERO, 16 << 20), List.of(vol0));
    s.start();
    assertThatThrownBy(s::start)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("starts once");
    s.close();
    s.close();
    assertThat(s.snapshot().connected()).isFalse();
  }

  @Test
  void configurationMistakesAreExplained() {
    assertThatThrownBy(() -> config(1000, Duration.ZERO, 16 << 20))
        .hasMessageContaining(
            "batch size 1000 bytes must be between 4096 and half the maximum frame");
    assertThatThrownBy(() -> config(1 << 20, Duration.ZERO, 1 << 19))
        .hasMessageContaining("window of 524288 bytes must hold at least one batch (1048576)");
    assertThatThrownBy(
            () ->
                new Shipper(
                    config(1 << 20, Duration.ZERO, 16 << 20),
                    List.of(new MemorySource("v", 1), new MemorySource("v", 1))))
        .hasMessageContaining("volume v is offered twice");
    ShipperConfig d =
        ShipperConfig.defaults("standby.example", 7400, sites.tokyo, sites.hiroshima.certificate());
    assertThat(d.maxBatchBytes()).isEqualTo(1 << 20);
    assertThat(d.windowBytes()).isEqualTo(16 << 20);
    assertThat(d.siteId()).isEqualTo("tokyo");
    assertThat(d.peerSiteId()).isEqualTo("hiroshima");
  }
}
