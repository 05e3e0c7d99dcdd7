package io.kagami.replicator.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import java.io.IOException;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Hostile and broken clients on a real server while a well-behaved client on the same server keeps
 * getting correct answers. Each bad connection is closed with one log line naming it.
 */
class NbdBadInputTest {
  static final int SIZE = 1 << 20;
  static LogCapture nettyLog;

  MemoryBlockDevice vol0;
  NbdServer server;
  int port;
  RawNbdClient good;
  LogCapture log;
  int round;

  @BeforeAll
  static void watchForLeaks() {
    nettyLog = LogCapture.netty();
  }

  @AfterAll
  static void noLeaks() {
    try {
      nettyLog.assertNoLeakReported();
    } finally {
      nettyLog.close();
    }
  }

  @BeforeEach
  void start() throws IOException {
    log = LogCapture.nbd();
    vol0 = MemoryBlockDevice.writable("vol0", SIZE);
    server = new NbdServer(NbdServerConfig.listen("127.0.0.1", 0), Exports.of(vol0));
    port = server.start();
    good = RawNbdClient.open(port, "vol0");
    goodClientIsServed();
  }

  @AfterEach
  void stop() throws IOException {
    good.close();
    server.close();
    vol0.close();
    log.close();
    assertThat(vol0.unreleasedBuffers()).isEmpty();
  }

  void goodClientIsServed() throws IOException {
    round++;
    byte[] data = new byte[4096];
    Arrays.fill(data, (byte) round);
    assertThat(good.write(round * 4096L, data).error())
        .as("good client's WRITE in round %d", round)
        .isZero();
    assertThat(good.read(round * 4096L, 4096).data())
        .as("good client's READ in round %d", round)
        .isEqualTo(data);
  }

  /** Exactly one WARNING/INFO line names this peer, and it says {@code reason}. */
  void loggedOnce(int peerPort, String reason) throws InterruptedException {
    String peer = "127.0.0.1:" + peerPort + ":";
    log.await(
        l -> l.contains(peer) && l.contains(reason), "for " + peer + " saying \"" + reason + "\"");
    assertThat(
            log.lines().stream()
                .filter(l -> l.contains(peer) && (l.startsWith("WARNING") || l.startsWith("INFO")))
                .toList())
        .as("log lines about " + peer)
        .hasSize(1);
  }

  @Test
  void aFloodOfBadClientsLeavesTheLogBoundedAndCountsWhatItDropped() throws Exception {
    int connections = 1500;
    long start = SystemTime.NANO.nanoTime();
    for (int i = 0; i < connections; i++) {
      try (RawNbdClient bad = RawNbdClient.connect(port)) {
        bad.sendRaw(new byte[] {(byte) 0x80, 0, 0, 0}); // client flags with an unknown bit
        assertThat(bad.closedByServer()).as("bad connection %d closed", i).isTrue();
      }
    }
    long elapsedSeconds = (SystemTime.NANO.nanoTime() - start) / 1_000_000_000L;
    // Every connection is refused with a log line; the limit lets a burst through and then one
    // line per refill interval, and counts the rest.
    long bound = ClientLog.BURST + 1 + elapsedSeconds / ClientLog.REFILL.toSeconds();
    List<String> about = log.matching("unsupported client flags");
    assertThat(about.size())
        .as("log lines about %d bad connections in %d s", connections, elapsedSeconds)
        .isLessThanOrEqualTo((int) bound);
    assertThat(server.droppedClientLogLines())
        .as("dropped lines are counted")
        .isGreaterThanOrEqualTo(connections - bound);

    // Another client address is not silenced by the flood.
    try (Socket other = new Socket()) {
      other.bind(new java.net.InetSocketAddress("127.0.0.2", 0));
      other.connect(new java.net.InetSocketAddress("127.0.0.1", port));
      other.getInputStream().readNBytes(18); // the server's greeting
      other.getOutputStream().write(new byte[] {(byte) 0x80, 0, 0, 0});
      other.getOutputStream().flush();
      log.await(
          l -> l.contains("/127.0.0.2:") && l.contains("unsupported client flags"),
          "about the second address");
    }
    goodClientIsServed();
  }

  @Test
  void randomBytesCloseOnlyThatConnection() throws Exception {
    long seed = SystemTime.NANO.nanoTime();
    System.out.println("NbdBadInputTest random bytes seed=" + seed);
    Random random = new Random(seed);
    for (int i = 0; i < 20; i++) {
      try (RawNbdClient bad = RawNbdClient.connect(port)) {
        byte[] noise = new byte[1 + random.nextInt(16384)];
        random.nextBytes(noise);
        noise[0] |= (byte) 0x80; // client flags with an unknown bit: refused however the rest looks
        bad.sendRaw(noise);
        assertThat(bad.closedByServer()).as("connection %d (seed %d) closed", i, seed).isTrue();
        loggedOnce(bad.localPort(), "unsupported client flags");
      }
      goodClientIsServed();
    }
  }

  @Test
  void randomOptionsAfterAValidHandshakeNeverHurtTheServer() throws Exception {
    long seed = SystemTime.NANO.nanoTime();
    System.out.println("NbdBadInputTest random options seed=" + seed);
    Random random = new Random(seed);
    for (int i = 0; i < 20; i++) {
      try (RawNbdClient bad = RawNbdClient.connect(port)) {
        bad.clientFlags(NbdProtocol.CLIENT_FLAG_FIXED_NEWSTYLE);
        byte[] noise = new byte[16 + random.nextInt(4096)];
        random.nextBytes(noise);
        ByteBuffer option =
            ByteBuffer.allocate(16 + noise.length)
                .putLong(NbdProtocol.IHAVEOPT)
                .putInt(8 + random.nextInt(8))
                .putInt(noise.length)
                .put(noise);
        bad.sendRaw(option.array());
        bad.sendRaw(noise); // then garbage where the next option header should be
        assertThat(bad.closedByServer()).as("connection %d (seed %d) closed", i, seed).isTrue();
      }
      goodClientIsServed();
    }
  }

  @Test
  void aTruncatedHandshakeIsLoggedAndForgotten() throws Exception {
    try (RawNbdClient bad = RawNbdClient.connect(port)) {
      bad.sendRaw(new byte[] {0, 0, 0, 3, 0x49, 0x48}); // flags, then half an option
      bad.shutdownOutput();
      assertThat(bad.closedByServer()).isTrue();
      loggedOnce(bad.localPort(), "disconnected during the handshake");
    }
    Socket s = new Socket("127.0.0.1", port);
    int local = s.getLocalPort();
    s.close();
    loggedOnce(local, "disconnected during the handshake (before sending its flags)");
    goodClientIsServed();
  }

  @Test
  void aBadRequestMagicClosesTheConnection() throws Exception {
    try (RawNbdClient bad = RawNbdClient.open(port, "vol0")) {
      byte[] header = new byte[28];
      for (int i = 0; i < header.length; i++) {
        header[i] = (byte) (i + 1);
      }
      bad.sendRaw(header);
      assertThat(bad.closedByServer()).isTrue();
      loggedOnce(bad.localPort(), "bad request magic 0x01020304");
    }
    goodClientIsServed();
  }

  @Test
  void oversizedRequestsAreRefusedWithoutBufferingThem() throws Exception {
    try (RawNbdClient bad = RawNbdClient.open(port, "vol0")) {
      assertThat(bad.call(NbdProtocol.CMD_READ, 0, 0, 0xffffffffL, null).error())
          .as("READ of 4 GiB - 1")
          .isEqualTo(22);
      // A 64 MiB WRITE (twice the maximum) is read and thrown away, then refused.
      long cookie = bad.send(NbdProtocol.CMD_WRITE, 0, 0, 64 << 20, null);
      byte[] chunk = new byte[1 << 20];
      for (int i = 0; i < 64; i++) {
        bad.sendRaw(chunk);
      }
      RawNbdClient.Reply r = bad.reply();
      assertThat(r.cookie()).isEqualTo(cookie);
      assertThat(r.error()).as("oversized WRITE").isEqualTo(22);
      assertThat(bad.read(0, 512).error()).as("the connection goes on").isZero();
      goodClientIsServed();
      // A WRITE claiming 4 GiB that never delivers: the client gives up, the server forgets it.
      bad.send(NbdProtocol.CMD_WRITE, 0, 0, 0xffffffffL, null);
      bad.sendRaw(chunk);
    }
    goodClientIsServed();
    assertThat(vol0.snapshot(0, 4096))
        .as("nothing of the refused WRITEs reached the device")
        .isEqualTo(new byte[4096]);
  }

  @Test
  void anAbsurdOptionLengthClosesTheConnection() throws Exception {
    try (RawNbdClient bad = RawNbdClient.connect(port)) {
      bad.clientFlags(NbdProtocol.CLIENT_FLAG_FIXED_NEWSTYLE);
      bad.sendRaw(
          ByteBuffer.allocate(16)
              .putLong(NbdProtocol.IHAVEOPT)
              .putInt(NbdProtocol.OPT_GO)
              .putInt(-1)
              .array());
      assertThat(bad.closedByServer()).isTrue();
      loggedOnce(bad.localPort(), "more than the limit");
    }
    goodClientIsServed();
  }

  @Test
  void aClientGoneWithRequestsInFlightIsLoggedOnce() throws Exception {
    vol0.hold();
    RawNbdClient bad = RawNbdClient.open(port, "vol0");
    int badPort = bad.localPort();
    bad.send(NbdProtocol.CMD_READ, 0, 0, 4096, null);
    MemoryBlockDevice.Held read = vol0.awaitHeld();
    bad.close();
    loggedOnce(badPort, "disconnected without NBD_CMD_DISC with 1 request(s) unanswered");
    read.release(); // completes after the client is gone: the buffer must still be released
    long cookie = good.send(NbdProtocol.CMD_FLUSH, 0, 0, 0, null);
    vol0.awaitHeld().release();
    assertThat(good.reply().cookie()).isEqualTo(cookie);
  }
}
