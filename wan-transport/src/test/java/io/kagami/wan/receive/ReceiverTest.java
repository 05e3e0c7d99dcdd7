package io.kagami.wan.receive;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.journal.JournalEntry;
import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.ship.ShipSource;
import io.kagami.wan.ship.Shipper;
import io.kagami.wan.testing.Catalog;
import io.kagami.wan.testing.LogCapture;
import io.kagami.wan.testing.MemorySink;
import io.kagami.wan.testing.MemorySource;
import io.kagami.wan.testing.RawPrimary;
import io.kagami.wan.testing.Records;
import io.kagami.wan.testing.Sites;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input on the standby's port closes that one connection with one logged reason (and a REFUSE
 * when TLS is up), while a paired primary keeps shipping over its own connection.
 */
class ReceiverTest {
  private static final Duration WAIT = Duration.ofSeconds(20);
  private static final long SIZE = 1L << 30;

  @TempDir Path dir;
  private Sites sites;
  private MemorySink sink;
  private Receiver receiver;
  private MemorySource source;
  private Shipper shipper;
  private LogCapture log;
  private final Random random = new Random(21);

  @BeforeEach
  void startALink() throws Exception {
    sites = new Sites(dir);
    log = new LogCapture(Receiver.class);
    sink = new MemorySink("vol0", SIZE);
    receiver =
        new Receiver(
            sites.receiver(),
            new Catalog().add("tokyo", sink).add("osaka", new MemorySink("vol9", 4096)));
    receiver.start();
    source = new MemorySource("vol0", SIZE);
    shipper = new Shipper(sites.shipper(receiver.port()), List.<ShipSource>of(source));
    shipper.start();
    assertTheGoodLinkStillShips();
  }

  @AfterEach
  void stop() {
    shipper.close();
    receiver.close();
    sink.close();
    log.close();
  }

  private void assertTheGoodLinkStillShips() throws Exception {
    List<JournalEntry> added = source.append(Records.fixed(random, 20, 500));
    long last = added.get(added.size() - 1).seq();
    sink.awaitDurable(last).get(WAIT.toSeconds(), TimeUnit.SECONDS);
    source.awaitPeerDurable(last).get(WAIT.toSeconds(), TimeUnit.SECONDS);
    assertThat(shipper.snapshot().connected()).isTrue();
    assertThat(shipper.snapshot().lastError()).as("the paired primary's link never broke").isNull();
  }

  private static boolean closedByPeer(Socket s) throws IOException {
    s.setSoTimeout((int) WAIT.toMillis());
    InputStream in = s.getInputStream();
    try {
      while (in.read() != -1) {
        // drain whatever the standby answers (a TLS alert) until it closes
      }
      return true;
    } catch (java.net.SocketException e) {
      return true; // reset
    }
  }

  private static byte[] frame(int type, byte[] body) {
    return ByteBuffer.allocate(5 + body.length)
        .putInt(1 + body.length)
        .put((byte) type)
        .put(body)
        .array();
  }

  @Test
  void randomBytesFailTheTlsHandshake() throws Exception {
    byte[] noise = new byte[4096];
    new Random(5).nextBytes(noise);
    try (Socket s = new Socket(Sites.HOST, receiver.port())) {
      s.getOutputStream().write(noise);
      assertThat(closedByPeer(s)).isTrue();
    }
    String line = log.await("TLS handshake failed", WAIT);
    assertThat(line)
        .startsWith("WARNING WAN peer 127.0.0.1:")
        .contains("the peer does not speak TLS")
        .endsWith("; closing the connection");
    assertThat(line).as("one readable line, not a hex dump of the garbage").doesNotContain("bf59");
    assertTheGoodLinkStillShips();
  }

  @Test
  void aTruncatedHelloIsRefused() throws Exception {
    // A whole frame whose body ends inside the site id.
    byte[] body =
        ByteBuffer.allocate(10)
            .putInt(WanCodec.MAGIC)
            .putShort((short) WanCodec.VERSION)
            .putShort((short) 5)
            .put((byte) 'o')
            .put((byte) 's')
            .array();
    try (RawPrimary p =
        new RawPrimary(receiver.port(), sites.osaka, sites.hiroshima.certificate())) {
      p.sendRaw(frame(1, body));
      assertThat(p.next(WAIT))
          .isEqualTo(new WanMessage.Refuse("HELLO is truncated: site id needs 5 bytes, 2 left"));
      assertThat(p.awaitClosed(WAIT)).isTrue();
    }
    assertThat(log.await("HELLO is truncated", WAIT)).endsWith("; closing the connection");
    assertTheGoodLinkStillShips();
  }

  @Test
  void aHelloCutOffByTheConnectionClosingIsLogged() throws Exception {
    try (RawPrimary p =
        new RawPrimary(receiver.port(), sites.osaka, sites.hiroshima.certificate())) {
      p.sendRaw(new byte[] {0, 0, 0, 40, 1, 0x4b, 0x47});
      p.disconnect();
    }
    assertThat(log.await("middle of a frame", WAIT))
        .contains("connection closed in the middle of a frame (3 of 40 bytes of a frame received)");
    assertTheGoodLinkStillShips();
  }

  @Test
  void anotherProtocolVersionIsRefusedWithTheVersionSpoken() throws Exception {
    byte[] body =
        ByteBuffer.allocate(16)
            .putInt(WanCodec.MAGIC)
            .putShort((short) 7)
            .putLong(42)
            .putShort((short) 0)
            .array();
    try (RawPrimary p =
        new RawPrimary(receiver.port(), sites.osaka, sites.hiroshima.certificate())) {
      p.sendRaw(frame(1, body));
      assertThat(p.next(WAIT))
          .isEqualTo(
              new WanMessage.Refuse(
                  "protocol version 7 is not supported (this side speaks version "
                      + WanCodec.VERSION
                      + ")"));
      assertThat(p.awaitClosed(WAIT)).isTrue();
    }
    log.await("protocol version 7 is not supported", WAIT);
    assertTheGoodLinkStillShips();
  }

  @Test
  void aFrameOverTheMaximumIsRefusedBeforeItIsRead() throws Exception {
    try (RawPrimary p =
        new RawPrimary(receiver.port(), sites.osaka, sites.hiroshima.certificate())) {
      p.sendRaw(new byte[] {0x7f, 0, 0, 0, 4});
      assertThat(p.next(WAIT))
          .isEqualTo(
              new WanMessage.Refuse(
                  "frame length 2130706432 is outside 1..67108864 (not a Kagami WAN peer, or a corrupt stream)"));
      assertThat(p.awaitClosed(WAIT)).isTrue();
    }
    assertTheGoodLinkStillShips();
  }

  @Test
  void aBatchBeforeHelloIsRefused() throws Exception {
    try (RawPrimary p =
        new RawPrimary(receiver.port(), sites.osaka, sites.hiroshima.certificate())) {
      p.send(new WanMessage.Batch("vol9", List.of(new JournalEntry(1, new byte[16]))));
      assertThat(p.next(WAIT)).isEqualTo(new WanMessage.Refuse("BATCH before HELLO"));
      assertThat(p.awaitClosed(WAIT)).isTrue();
    }
    assertTheGoodLinkStillShips();
  }

  @Test
  void volumesTheCatalogDoesNotKnowOrOfAnotherSizeAreRefused() throws Exception {
    try (RawPrimary p =
        new RawPrimary(receiver.port(), sites.osaka, sites.hiroshima.certificate())) {
      p.send(
          new WanMessage.Hello(
              WanCodec.VERSION, "osaka", List.of(new WanMessage.VolumeOffer("vol9", 8192))));
      assertThat(p.next(WAIT))
          .isEqualTo(
              new WanMessage.Refuse("volume vol9 is 8192 bytes on the primary but 4096 here"));
      assertThat(p.awaitClosed(WAIT)).isTrue();
    }
    try (RawPrimary p =
        new RawPrimary(receiver.port(), sites.osaka, sites.hiroshima.certificate())) {
      p.send(
          new WanMessage.Hello(
              WanCodec.VERSION, "osaka", List.of(new WanMessage.VolumeOffer("vol0", SIZE))));
      assertThat(p.next(WAIT))
          .isEqualTo(new WanMessage.Refuse("volume vol0 of site osaka is not replicated here"));
      assertThat(p.awaitClosed(WAIT)).isTrue();
    }
    assertThat(receiver.lastError()).isEqualTo("volume vol0 of site osaka is not replicated here");
    assertThat(receiver.snapshot().lastErrorAt()).isNotNull();
    assertTheGoodLinkStillShips();
  }

  @Test
  void aSilentConnectionIsClosedAfterThreeHeartbeats() throws Exception {
    try (RawPrimary p =
        new RawPrimary(receiver.port(), sites.osaka, sites.hiroshima.certificate())) {
      assertThat(p.next(WAIT)).isEqualTo(new WanMessage.Refuse("no frame for 1500 ms"));
      assertThat(p.awaitClosed(WAIT)).isTrue();
    }
    assertTheGoodLinkStillShips();
  }

  @Test
  void reportsItsPortPeersAndVolumes() throws Exception {
    ReceiverSnapshot s = receiver.snapshot();
    assertThat(s.address()).isEqualTo("127.0.0.1:" + receiver.port());
    assertThat(s.peers()).singleElement().satisfies(p -> assertThat(p.siteId()).isEqualTo("tokyo"));
    assertThat(s.volumes()).containsExactly(new ReceiverSnapshot.Volume("tokyo", "vol0", 20, true));
    assertThat(receiver.connectedPeers()).containsExactly("tokyo");
    assertThatThrownBy(receiver::start).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void configurationMistakesAreExplained() {
    assertThatThrownBy(() -> ReceiverConfig.defaults(Sites.HOST, 0, sites.hiroshima, List.of()))
        .hasMessageContaining("paired with at least one primary's certificate");
    assertThatThrownBy(
            () ->
                ReceiverConfig.defaults(
                    Sites.HOST, 70000, sites.hiroshima, List.of(sites.tokyo.certificate())))
        .hasMessageContaining("port 0..65535");
    assertThatThrownBy(() -> sites.receiver().withMaxFrameBytes(1000))
        .hasMessageContaining("maximum frame 1000 bytes is below 65536");
  }

  @Test
  void ioThreadsOutOfRangeAreExplained() {
    assertThatThrownBy(() -> sites.receiver().withIoThreads(0))
        .hasMessageContaining("I/O threads 0 must be 1..64");
    assertThat(sites.receiver().withIoThreads(1).ioThreads()).isEqualTo(1);
  }

  @Test
  void aPortInUseIsNamed() {
    ReceiverConfig taken = sites.receiver().withPort(receiver.port());
    try (Receiver second = new Receiver(taken, new Catalog())) {
      assertThatThrownBy(second::start)
          .hasMessageStartingWith(
              "cannot listen for WAN connections on 127.0.0.1:" + receiver.port());
    }
  }
}
