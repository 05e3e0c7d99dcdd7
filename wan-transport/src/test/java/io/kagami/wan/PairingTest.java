package io.kagami.wan;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.receive.Receiver;
import io.kagami.wan.receive.ReceiverConfig;
import io.kagami.wan.ship.LinkSnapshot;
import io.kagami.wan.ship.ShipSource;
import io.kagami.wan.ship.Shipper;
import io.kagami.wan.testing.Catalog;
import io.kagami.wan.testing.LogCapture;
import io.kagami.wan.testing.MemorySink;
import io.kagami.wan.testing.MemorySource;
import io.kagami.wan.testing.RawPrimary;
import io.kagami.wan.testing.Records;
import io.kagami.wan.testing.Sites;
import io.kagami.wan.tls.SiteCredentials;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each side trusts exactly the certificate it was paired with. */
class PairingTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final long SIZE = 1L << 30;

  @TempDir Path dir;
  private Sites sites;

  @BeforeEach
  void sites() {
    sites = new Sites(dir);
  }

  @Test
  void aPrimaryWithAnotherCertificateIsRefusedAtTheHandshakeWhileThePairedOneShips()
      throws Exception {
    Random random = new Random(11);
    MemorySource good = new MemorySource("vol0", SIZE);
    MemorySource stolen = new MemorySource("vol0", SIZE);
    stolen.append(Records.fixed(random, 10, 100));
    try (MemorySink sink = new MemorySink("vol0", SIZE);
        LogCapture receiverLog = new LogCapture(Receiver.class);
        LogCapture shipperLog = new LogCapture(Shipper.class);
        Receiver receiver = new Receiver(sites.receiver(), new Catalog().add("tokyo", sink))) {
      receiver.start();
      try (Shipper paired =
          new Shipper(sites.shipper(receiver.port()), List.<ShipSource>of(good))) {
        paired.start();
        good.append(Records.fixed(random, 100, 1000));
        sink.awaitDurable(100).get(WAIT.toSeconds(), TimeUnit.SECONDS);

        // Calls itself "tokyo" too, but with a key pair of its own.
        try (Shipper impostor =
            new Shipper(
                sites.shipper(sites.impostor, receiver.port()), List.<ShipSource>of(stolen))) {
          impostor.start();
          String refusal = receiverLog.await("is not the paired site's certificate", WAIT);
          assertThat(refusal)
              .startsWith("WARNING WAN peer 127.0.0.1:")
              .contains(
                  "TLS handshake failed: peer certificate CN=tokyo (SHA-256 "
                      + SiteCredentials.fingerprint(sites.impostor.certificate())
                      + ") is not the paired site's certificate");
          assertThat(shipperLog.await("rejected this site's certificate", WAIT))
              .contains("WAN link to hiroshima");
          LinkSnapshot s = impostor.snapshot();
          assertThat(s.connected()).isFalse();
          assertThat(s.lastError()).contains("rejected this site's certificate");
        }

        good.append(Records.fixed(random, 100, 1000));
        sink.awaitDurable(200).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(Records.difference("vol0", good.entries(), sink.stored()))
            .as("the paired primary's history, untouched by the impostor")
            .isNull();
        assertThat(paired.snapshot().connected()).isTrue();
        assertThat(paired.snapshot().lastError()).isNull();
      }
    }
  }

  @Test
  void aStandbyWithAnotherCertificateIsRefusedByTheShipper() throws Exception {
    SiteCredentials fakeHiroshima =
        SiteCredentials.loadOrCreate(dir.resolve("fake-hiroshima"), "hiroshima");
    MemorySource vol0 = new MemorySource("vol0", SIZE);
    vol0.append(Records.fixed(new Random(12), 10, 100));
    ReceiverConfig fake =
        ReceiverConfig.defaults(Sites.HOST, 0, fakeHiroshima, List.of(sites.tokyo.certificate()));
    try (MemorySink sink = new MemorySink("vol0", SIZE);
        LogCapture shipperLog = new LogCapture(Shipper.class);
        Receiver receiver = new Receiver(fake, new Catalog().add("tokyo", sink))) {
      receiver.start();
      try (Shipper shipper =
          new Shipper(sites.shipper(receiver.port()), List.<ShipSource>of(vol0))) {
        shipper.start();
        String line = shipperLog.await("is not the paired site's certificate", WAIT);
        assertThat(line)
            .contains(
                "TLS handshake with the standby failed: peer certificate CN=hiroshima (SHA-256 "
                    + SiteCredentials.fingerprint(fakeHiroshima.certificate())
                    + ")");
        assertThat(shipper.snapshot().connected()).isFalse();
        assertThat(shipper.snapshot().lastError()).contains("is not the paired site's certificate");
        assertThat(sink.storeFirstSeqs())
            .as("nothing shipped to a standby that is not the paired one")
            .isEmpty();
      }
    }
  }

  @Test
  void aPairedPrimaryClaimingAnotherSiteIdIsRefused() throws Exception {
    try (LogCapture log = new LogCapture(Receiver.class);
        // A patient receiver: the test's blocking client may take longer than the usual three
        // 500 ms heartbeats to handshake and send HELLO on a loaded machine, and being closed for
        // idleness would hide the refusal this test is about.
        Receiver receiver =
            new Receiver(sites.receiver().withHeartbeat(Duration.ofSeconds(10)), new Catalog())) {
      receiver.start();
      try (RawPrimary osaka =
          new RawPrimary(receiver.port(), sites.osaka, sites.hiroshima.certificate())) {
        osaka.send(new WanMessage.Hello(WanCodec.VERSION, "tokyo", List.of()));
        assertThat(osaka.next(WAIT))
            .isEqualTo(
                new WanMessage.Refuse(
                    "HELLO claims site \"tokyo\" but the certificate is for \"osaka\""));
        assertThat(osaka.awaitClosed(WAIT)).isTrue();
      }
      assertThat(log.await("HELLO claims site", WAIT))
          .startsWith("WARNING WAN peer 127.0.0.1:")
          .endsWith("; closing the connection");
    }
  }

  @Test
  void twoPairedPrimariesMirrorIntoOneStandby() throws Exception {
    Random random = new Random(13);
    MemorySource tokyo = new MemorySource("db", SIZE);
    MemorySource osaka = new MemorySource("db", SIZE);
    try (MemorySink tokyoSink = new MemorySink("db", SIZE);
        MemorySink osakaSink = new MemorySink("db", SIZE);
        Receiver receiver =
            new Receiver(
                sites.receiver(), new Catalog().add("tokyo", tokyoSink).add("osaka", osakaSink))) {
      receiver.start();
      try (Shipper a = new Shipper(sites.shipper(receiver.port()), List.<ShipSource>of(tokyo));
          Shipper b =
              new Shipper(
                  sites.shipper(sites.osaka, receiver.port()), List.<ShipSource>of(osaka))) {
        a.start();
        b.start();
        tokyo.append(Records.mixed(random, 300));
        osaka.append(Records.mixed(random, 200));
        tokyoSink.awaitDurable(300).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        osakaSink.awaitDurable(200).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        tokyo
            .awaitPeerDurable(300)
            .get(WAIT.toSeconds(), TimeUnit.SECONDS); // acknowledged, so recorded
        osaka.awaitPeerDurable(200).get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertThat(Records.difference("tokyo/db", tokyo.entries(), tokyoSink.stored())).isNull();
        assertThat(Records.difference("osaka/db", osaka.entries(), osakaSink.stored())).isNull();
        assertThat(receiver.snapshot().volumes())
            .extracting(v -> v.sourceSiteId() + "/" + v.volume() + "@" + v.lastDurableSeq())
            .containsExactly("osaka/db@200", "tokyo/db@300");
      }
    }
  }

  /**
   * An N:1 standby promoting one primary's volumes: {@link Receiver#disconnect} ends that peer's
   * connection only; its catalog then refuses it, so nothing it appends afterwards is stored, while
   * the other primary keeps its connection and ships on.
   */
  @Test
  void disconnectingOnePeerLeavesTheOtherConnectedAndShipping() throws Exception {
    Random random = new Random(17);
    MemorySource tokyo = new MemorySource("db", SIZE);
    MemorySource osaka = new MemorySource("db", SIZE);
    java.util.concurrent.atomic.AtomicBoolean osakaPromoted =
        new java.util.concurrent.atomic.AtomicBoolean();
    try (LogCapture log = new LogCapture(Receiver.class);
        MemorySink tokyoSink = new MemorySink("db", SIZE);
        MemorySink osakaSink = new MemorySink("db", SIZE)) {
      Catalog both = new Catalog().add("tokyo", tokyoSink).add("osaka", osakaSink);
      io.kagami.wan.receive.ReceiverCatalog catalog =
          (site, volume, size) -> {
            if (site.equals("osaka") && osakaPromoted.get()) {
              throw new io.kagami.wan.receive.LinkRefusedException(
                  "site \"osaka\" is stale: its volumes were promoted here");
            }
            return both.sink(site, volume, size);
          };
      try (Receiver receiver = new Receiver(sites.receiver(), catalog)) {
        receiver.start();
        try (Shipper a = new Shipper(sites.shipper(receiver.port()), List.<ShipSource>of(tokyo));
            Shipper b =
                new Shipper(
                    sites.shipper(sites.osaka, receiver.port()), List.<ShipSource>of(osaka))) {
          a.start();
          b.start();
          tokyo.append(Records.mixed(random, 100));
          osaka.append(Records.mixed(random, 100));
          tokyo.awaitPeerDurable(100).get(WAIT.toSeconds(), TimeUnit.SECONDS);
          osaka.awaitPeerDurable(100).get(WAIT.toSeconds(), TimeUnit.SECONDS);
          java.time.Instant tokyoSince = peer(receiver, "tokyo").since();

          osakaPromoted.set(true);
          receiver.disconnect("osaka").get(WAIT.toSeconds(), TimeUnit.SECONDS);
          osaka.append(Records.mixed(random, 50));
          log.await("is stale: its volumes were promoted here", WAIT);
          tokyo.append(Records.mixed(random, 100));
          tokyo.awaitPeerDurable(200).get(WAIT.toSeconds(), TimeUnit.SECONDS);

          assertThat(Records.difference("tokyo/db", tokyo.entries(), tokyoSink.stored())).isNull();
          assertThat(peer(receiver, "tokyo").since())
              .as("tokyo kept the connection it had before osaka was disconnected")
              .isEqualTo(tokyoSince);
          assertThat(a.snapshot().lastError()).as("tokyo's link never broke").isNull();
          assertThat(osakaSink.stored())
              .as("nothing osaka appended after its disconnection was stored")
              .hasSize(100);
          assertThat(receiver.connectedPeers()).doesNotContain("osaka");
          assertThat(receiver.disconnect("kyoto").isDone())
              .as("a peer that never connected: nothing to end")
              .isTrue();
        }
      }
    }
  }

  private static io.kagami.wan.receive.ReceiverSnapshot.Peer peer(Receiver r, String id) {
    return r.snapshot().peers().stream()
        .filter(p -> p.siteId().equals(id))
        .findFirst()
        .orElseThrow(() -> new AssertionError(id + " is not connected: " + r.snapshot()));
  }
}
