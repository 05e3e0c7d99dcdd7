package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.clock.SystemTime;
import io.kagami.journal.JournalEntry;
import io.kagami.testkit.nbd.NbdErrorException;
import io.kagami.testkit.nbd.NbdProtocol;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.wan.ship.ShipSource;
import io.kagami.wan.ship.Shipper;
import io.kagami.wan.ship.ShipperConfig;
import io.kagami.wan.tls.SiteCredentials;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input on the NBD and WAN ports of running sites: each bad connection gets the protocol's
 * error or is closed with a logged reason, while a well-behaved client on the same port keeps being
 * served and replication keeps going.
 */
class BadInputIT {
  private static final long VOLUME = 16L << 20;
  @TempDir static Path dir;
  static TwoSites sites;
  static NbdTestClient good;

  @BeforeAll
  static void start() throws Exception {
    sites = new TwoSites(dir, VOLUME).start();
    good = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0");
  }

  @AfterAll
  static void stop() throws Exception {
    good.close();
    sites.close();
  }

  /** The good client still reads back what it writes, and the write replicates. */
  private static void goodClientStillServed(int round) throws Exception {
    byte[] data = new byte[4096];
    Arrays.fill(data, (byte) round);
    good.write(round * 4096L, data, NbdProtocol.CMD_FLAG_FUA).get(10, TimeUnit.SECONDS);
    assertThat(good.read(round * 4096L, 4096).get(10, TimeUnit.SECONDS)).isEqualTo(data);
    sites.awaitInSync(Duration.ofSeconds(60));
    try (NbdTestClient replica = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
      assertThat(replica.read(round * 4096L, 4096).get(10, TimeUnit.SECONDS)).isEqualTo(data);
    }
  }

  private static boolean closedByPeer(Socket s) throws Exception {
    s.setSoTimeout(10_000);
    InputStream in = s.getInputStream();
    byte[] buf = new byte[4096];
    while (true) {
      int n;
      try {
        n = in.read(buf);
      } catch (java.net.SocketException reset) {
        return true;
      }
      if (n < 0) {
        return true;
      }
    }
  }

  @Test
  void aSlowAdminClientIsClosedByTheHeaderDeadlineWhileOthersAreServed() throws Exception {
    long start = SystemTime.NANO.nanoTime();
    try (Socket slow = new Socket("127.0.0.1", sites.primaryAdmin)) {
      OutputStream out = slow.getOutputStream();
      out.write("GET /status HTTP/1.1\r\nHost: kagami\r\n".getBytes(StandardCharsets.US_ASCII));
      slow.setSoTimeout(1000);
      InputStream in = slow.getInputStream();
      boolean closed = false;
      // One more header line each second the server keeps the connection open (bounded: the
      // deadline is 10 s, so 30 lines is three times what it needs).
      for (int line = 0; line < 30 && !closed; line++) {
        try {
          closed = in.read() < 0;
        } catch (java.net.SocketTimeoutException stillOpen) {
          try {
            out.write(("X-Slow-" + line + ": y\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
          } catch (java.net.SocketException reset) {
            closed = true;
          }
        } catch (java.net.SocketException reset) {
          closed = true;
        }
      }
      long seconds = (SystemTime.NANO.nanoTime() - start) / 1_000_000_000L;
      assertThat(closed)
          .as("a client sending one header line a second was still connected after %d s", seconds)
          .isTrue();
      assertThat(seconds)
          .as("closed by the 10 s header deadline, not at once")
          .isGreaterThanOrEqualTo(8);
    }
    assertThat(sites.primary.status().path("role").asText())
        .as("the admin port still answers")
        .isEqualTo("primary");
  }

  @Test
  void randomBytesAndTruncatedHandshakesOnTheNbdPortCloseOnlyThatConnection() throws Exception {
    byte[] noise = new byte[8192];
    new Random(11).nextBytes(noise);
    try (Socket s = new Socket("127.0.0.1", sites.primaryNbd)) {
      s.getOutputStream().write(noise);
      assertThat(closedByPeer(s)).isTrue();
    }
    try (Socket s = new Socket("127.0.0.1", sites.primaryNbd)) {
      s.getInputStream().readNBytes(18);
      s.getOutputStream().write(new byte[] {0, 0, 0, 3, 0x49, 0x48}); // flags, then half an option
      s.shutdownOutput();
      assertThat(closedByPeer(s)).isTrue();
    }
    try (Socket s = new Socket("127.0.0.1", sites.primaryNbd)) {
      s.getInputStream().readNBytes(18);
      s.getOutputStream().write(new byte[] {0, 0, 0, 3});
      s.getOutputStream().write(Arrays.copyOf(noise, 16)); // an option header without IHAVEOPT
      assertThat(closedByPeer(s)).isTrue();
    }
    goodClientStillServed(1);
    assertThat(sites.primary.log())
        .contains("unsupported client flags")
        .contains("bad option magic")
        .contains("disconnected during the handshake");
  }

  @Test
  void requestsBeyondTheExportOrTooLargeGetErrorsAndTheConnectionGoesOn() throws Exception {
    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
      assertErrno(c.read(VOLUME - 512, 4096), 22);
      assertErrno(c.write(VOLUME, new byte[512]), 28);
      assertErrno(c.request(0, NbdProtocol.CMD_READ, 0, 64 << 20, null), 22);
      assertErrno(c.request(0, NbdProtocol.CMD_WRITE, 0, 33 << 20, new byte[33 << 20]), 22);
      assertErrno(c.request(0, 99, 0, 0, null), 22);
      assertThat(c.read(0, 512).get(10, TimeUnit.SECONDS)).hasSize(512);
    }
    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
      c.sendRaw(
          new byte[] {
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
            25, 26, 27, 28
          });
      assertThatThrownBy(() -> c.read(0, 512).get(10, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class);
    }
    goodClientStillServed(2);
    assertThat(sites.primary.log()).contains("bad request magic");
  }

  @Test
  void writesToTheStandbysReadOnlyExportGetEperm() throws Exception {
    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
      assertThat(c.isReadOnly()).isTrue();
      assertErrno(c.write(0, new byte[4096]), 1);
      assertErrno(c.trim(0, 4096), 1);
      assertErrno(c.writeZeroes(0, 4096), 1);
      assertThat(c.read(0, 4096).get(10, TimeUnit.SECONDS)).hasSize(4096);
    }
    goodClientStillServed(3);
  }

  @Test
  void garbageOnTheWanPortAndAForeignCertificateAreRefusedWhileTheLinkStaysUp() throws Exception {
    byte[] noise = new byte[4096];
    new Random(5).nextBytes(noise);
    try (Socket s = new Socket("127.0.0.1", sites.wan)) {
      s.getOutputStream().write(noise);
      assertThat(closedByPeer(s)).isTrue();
    }
    // A "tokyo" with a key pair of its own, not the one the standby was paired with.
    SiteCredentials impostor = SiteCredentials.loadOrCreate(dir.resolve("impostor/tls"), "tokyo");
    SiteCredentials standbyCert =
        SiteCredentials.load(
            dir.resolve("hiroshima/tls/site.key"), dir.resolve("hiroshima/tls/site.crt"));
    ShipSource empty =
        new ShipSource() {
          public String volume() {
            return "vol0";
          }

          public long sizeBytes() {
            return VOLUME;
          }

          public long lastSeq() {
            return 0;
          }

          public List<JournalEntry> read(long fromSeq, int maxBytes) {
            return List.of();
          }

          public void peerDurable(long seq) {}

          public void onAppend(Runnable wakeup) {}
        };
    try (Shipper s =
        new Shipper(
            ShipperConfig.defaults("127.0.0.1", sites.wan, impostor, standbyCert.certificate()),
            List.of(empty))) {
      s.start();
      long deadline = SystemTime.NANO.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (s.snapshot().lastError() == null && SystemTime.NANO.nanoTime() < deadline) {
        SystemTime.pause(
            TimeUnit.MILLISECONDS.toNanos(20),
            java.util.concurrent.TimeUnit.NANOSECONDS); // bounded wait for the refusal
      }
      assertThat(s.snapshot().connected()).isFalse();
      assertThat(s.snapshot().lastError()).as("why the impostor was refused").isNotNull();
    }
    assertThat(sites.standby.log()).contains("is not the paired site's certificate");
    assertThat(sites.primary.status().path("link").path("connected").asBoolean()).isTrue();
    goodClientStillServed(4);
  }

  /**
   * Acceptance c), WAN part: 300 connections sending noise to the standby's WAN port, one after
   * another, each refused and closed. The standby logs at most 32 lines about that address plus one
   * per 5 s that passed (the per-address limit), each under 300 characters, so well under 15 KiB
   * whatever the flood; every refusal it did not log is counted in {@code
   * kagami_wan_log_dropped_lines_total}; the link to the real primary stays up.
   */
  @Test
  void aFloodOnTheWanPortIsHeldToTheLogLimitAndCounted() throws Exception {
    int flood = 300;
    String refusal = "the peer does not speak TLS";
    long linesBefore = sites.standby.log().lines().filter(l -> l.contains(refusal)).count();
    long droppedBefore = droppedWanLines();
    byte[] noise = new byte[512];
    new Random(16).nextBytes(noise);
    // From a loopback address of its own: the limit is per client address, and the other tests'
    // refusals (from 127.0.0.1) must still be logged whatever order the tests run in.
    java.net.InetAddress flooder = java.net.InetAddress.getByName("127.0.0.16");
    long start = SystemTime.NANO.nanoTime();
    for (int i = 0; i < flood; i++) {
      try (Socket s =
          new Socket(java.net.InetAddress.getByName("127.0.0.1"), sites.wan, flooder, 0)) {
        s.getOutputStream().write(noise);
        assertThat(closedByPeer(s)).isTrue();
      }
    }
    long seconds = TimeUnit.NANOSECONDS.toSeconds(SystemTime.NANO.nanoTime() - start);
    List<String> lines =
        sites.standby.log().lines().filter(l -> l.contains(refusal)).skip(linesBefore).toList();
    long bytes = lines.stream().mapToLong(l -> l.length() + 1).sum();
    long dropped = droppedWanLines() - droppedBefore;
    long bound = 32 + seconds / 5 + 1;
    System.out.printf(
        "BadInputIT: %d bad WAN connections in %d s: %d lines (%d bytes) logged, %d dropped"
            + " (bound %d lines)%n",
        flood, seconds, lines.size(), bytes, dropped, bound);
    assertThat((long) lines.size()).as("refusal lines logged").isLessThanOrEqualTo(bound);
    assertThat(lines).allMatch(l -> l.length() < 300, "each line under 300 characters");
    assertThat(lines.size() + dropped)
        .as("every refusal is either logged or counted as dropped")
        .isEqualTo(flood);
    assertThat(sites.primary.status().path("link").path("connected").asBoolean()).isTrue();
    goodClientStillServed(6);
  }

  private static long droppedWanLines() throws Exception {
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile(
                "(?m)^kagami_wan_log_dropped_lines_total\\{site=\"hiroshima\"\\} ([0-9.E]+)$")
            .matcher(sites.standby.metrics());
    assertThat(m.find()).as("kagami_wan_log_dropped_lines_total on the standby").isTrue();
    return (long) Double.parseDouble(m.group(1));
  }

  private static void assertErrno(java.util.concurrent.CompletableFuture<?> f, int errno) {
    assertThatThrownBy(() -> f.get(30, TimeUnit.SECONDS))
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOfSatisfying(
            NbdErrorException.class, e -> assertThat(e.errorCode()).isEqualTo(errno));
  }
}
