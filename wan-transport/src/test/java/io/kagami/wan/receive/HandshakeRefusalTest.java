package io.kagami.wan.receive;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.ship.ShipSource;
import io.kagami.wan.ship.Shipper;
import io.kagami.wan.testing.Catalog;
import io.kagami.wan.testing.LogCapture;
import io.kagami.wan.testing.MemorySource;
import io.kagami.wan.testing.Sites;
import io.kagami.wan.tls.SiteCredentials;
import io.kagami.wan.tls.Tls;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each way a WAN TLS handshake fails is logged as one line with its true reason, on the side that
 * sees it: the standby's receiver names a client without a certificate, with a certificate that is
 * not the paired one (another CA / key), with the paired certificate expired or not valid yet, and
 * a connection closed before the handshake; the primary's shipper names a standby that rejected its
 * certificate and a connection closed before the handshake. The certificates are generated here
 * (validity periods from a fixed clock). A flood of bad connections from one address is held to the
 * per-address limit, and the dropped lines are counted.
 */
class HandshakeRefusalTest {
  private static final Duration WAIT = Duration.ofSeconds(20);

  @TempDir Path dir;
  private Sites sites;
  private SiteCredentials expired;
  private SiteCredentials notYetValid;
  private final AtomicLong now = new AtomicLong(); // the log limiter's clock, moved by hand
  private final PeerLog peerLog = new PeerLog(now::get);
  private Receiver receiver;
  private LogCapture log;
  private EventLoopGroup group;

  @BeforeEach
  void start() {
    sites = new Sites(dir);
    Instant today = SystemTime.WALL.instant();
    // Issued 31 years ago (valid 30 years and a week): expired. Issued in two days: not valid yet.
    expired =
        SiteCredentials.loadOrCreate(
            dir.resolve("expired"),
            "tokyo",
            InstantSource.fixed(today.minus(Duration.ofDays(31 * 365))));
    notYetValid =
        SiteCredentials.loadOrCreate(
            dir.resolve("future"), "osaka", InstantSource.fixed(today.plus(Duration.ofDays(2))));
    log = new LogCapture(Receiver.class, Shipper.class);
    receiver =
        new Receiver(
            ReceiverConfig.defaults(
                    Sites.HOST,
                    0,
                    sites.hiroshima,
                    List.of(
                        sites.tokyo.certificate(),
                        expired.certificate(),
                        notYetValid.certificate()))
                .withHeartbeat(Duration.ofMillis(500)),
            new Catalog(),
            SystemTime.WALL,
            peerLog);
    receiver.start();
    group =
        new MultiThreadIoEventLoopGroup(
            1,
            Thread.ofPlatform().name("refusal-client-", 0).daemon(true).factory(),
            NioIoHandler.newFactory());
  }

  @AfterEach
  void stop() {
    receiver.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    log.close();
  }

  /** Connects with {@code tls} and waits until the standby closed the connection. */
  private void connectUntilClosed(SslContext tls) throws Exception {
    Channel ch =
        new Bootstrap()
            .group(group)
            .channel(NioSocketChannel.class)
            .handler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel c) {
                    c.pipeline().addLast(tls.newHandler(c.alloc()));
                  }
                })
            .connect(Sites.HOST, receiver.port())
            .sync()
            .channel();
    assertThat(ch.closeFuture().await(WAIT.toMillis()))
        .as("the standby closed the refused connection")
        .isTrue();
  }

  private String refusal(String fragment) throws InterruptedException {
    String line = log.await(fragment, WAIT);
    assertThat(line)
        .startsWith("WARNING WAN peer 127.0.0.1:")
        .contains(": TLS handshake failed: ")
        .endsWith("; closing the connection")
        .doesNotContain("Exception")
        .doesNotContain("rejected this site's certificate");
    return line;
  }

  @Test
  void aClientWithoutACertificateIsNamedSo() throws Exception {
    // Any TLS client, not a Kagami site: trusts whatever the standby presents, presents nothing.
    connectUntilClosed(
        SslContextBuilder.forClient()
            .protocols("TLSv1.3")
            .trustManager(InsecureTrustManagerFactory.INSTANCE)
            .build());
    assertThat(refusal("presented no certificate"))
        .contains(
            "TLS handshake failed: the client presented no certificate (a paired Kagami site"
                + " always presents its site.crt)");
  }

  @Test
  void aCertificateFromAnotherCaIsNamedWithItsFingerprint() throws Exception {
    connectUntilClosed(Tls.client(sites.impostor, sites.hiroshima.certificate()));
    assertThat(refusal("is not the paired site's certificate"))
        .contains(
            "TLS handshake failed: peer certificate CN=tokyo (SHA-256 "
                + SiteCredentials.fingerprint(sites.impostor.certificate())
                + ") is not the paired site's certificate");
  }

  @Test
  void thePairedCertificateExpiredIsNamedSo() throws Exception {
    connectUntilClosed(Tls.client(expired, sites.hiroshima.certificate()));
    assertThat(refusal("has expired"))
        .contains(
            "TLS handshake failed: the client's certificate is the paired one but has expired");
  }

  @Test
  void thePairedCertificateNotValidYetIsNamedSo() throws Exception {
    connectUntilClosed(Tls.client(notYetValid, sites.hiroshima.certificate()));
    assertThat(refusal("not valid yet"))
        .contains(
            "TLS handshake failed: the client's certificate is the paired one but not valid yet")
        .contains("check the clocks of both sites");
  }

  @Test
  void theRightCertificateIsNotRefused() throws Exception {
    Channel ch =
        new Bootstrap()
            .group(group)
            .channel(NioSocketChannel.class)
            .handler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel c) {
                    c.pipeline()
                        .addLast(
                            Tls.client(sites.tokyo, sites.hiroshima.certificate())
                                .newHandler(c.alloc()))
                        .addLast(new WanCodec(1 << 20));
                  }
                })
            .connect(Sites.HOST, receiver.port())
            .sync()
            .channel();
    assertThat(ch.pipeline().get(SslHandler.class).handshakeFuture().await(WAIT.toMillis()))
        .isTrue();
    assertThat(ch.pipeline().get(SslHandler.class).handshakeFuture().isSuccess()).isTrue();
    // Silent after the handshake: closed for that (three heartbeats), not for its certificate.
    assertThat(ch.closeFuture().await(WAIT.toMillis())).isTrue();
    assertThat(log.await("no frame for", WAIT)).startsWith("WARNING WAN peer 127.0.0.1:");
    assertThat(log.lines()).noneMatch(l -> l.contains("TLS handshake failed"));
  }

  @Test
  void aConnectionClosedBeforeTheHandshakeIsOneQuietLine() throws Exception {
    try (Socket s = new Socket(Sites.HOST, receiver.port())) {
      s.setSoLinger(true, 0); // an abort (RST), as a port scanner sends
    }
    String line = log.await("before the TLS handshake completed", WAIT);
    assertThat(line)
        .matches(
            "INFO WAN peer 127\\.0\\.0\\.1:\\d+: connection closed by 127\\.0\\.0\\.1:\\d+ before"
                + " the TLS handshake completed");
    try (Socket s = new Socket(Sites.HOST, receiver.port())) {
      s.getOutputStream().flush(); // an orderly close (FIN) without a byte sent
    }
    log.awaitCount("before the TLS handshake completed", 2, WAIT);
    assertThat(log.lines())
        .noneMatch(l -> l.contains("ClosedChannelException") || l.contains("TLS handshake failed"));
    assertThat(receiver.snapshot().lastError())
        .as("a connection closed before the handshake is not the link's last error")
        .isNull();
  }

  @Test
  void theShipperNamesAStandbyThatRejectedItsCertificate() throws Exception {
    // osaka is not paired with this standby (only tokyo is, and the two test certificates).
    MemorySource vol0 = new MemorySource("vol0", 1L << 20);
    try (Shipper shipper =
        new Shipper(sites.shipper(sites.osaka, receiver.port()), List.<ShipSource>of(vol0))) {
      shipper.start();
      String line = log.await("WAN link to", WAIT);
      assertThat(line)
          .startsWith("WARNING WAN link to ")
          .contains("the standby rejected this site's certificate (TLS alert ")
          .contains("is it paired with this site's site.crt?")
          .doesNotContain("Exception");
    }
    assertThat(refusal("is not the paired site's certificate")).contains("CN=osaka");
  }

  @Test
  void theShipperNamesAConnectionClosedBeforeTheHandshake() throws Exception {
    CompletableFuture<Void> closer;
    try (ServerSocket server =
        new ServerSocket(0, 50, java.net.InetAddress.getByName(Sites.HOST))) {
      // Accepts and closes at once: a standby going away, a firewall ending the connection; until
      // the listener itself closes.
      closer =
          CompletableFuture.runAsync(
              () -> {
                while (true) {
                  try (Socket s = server.accept()) {
                    s.getOutputStream().flush();
                  } catch (java.io.IOException closed) {
                    return;
                  }
                }
              });
      MemorySource vol0 = new MemorySource("vol0", 1L << 20);
      try (Shipper shipper =
          new Shipper(sites.shipper(server.getLocalPort()), List.<ShipSource>of(vol0))) {
        shipper.start();
        String line = log.await("WAN link to", WAIT);
        assertThat(line)
            .isEqualTo(
                "WARNING WAN link to hiroshima (127.0.0.1:"
                    + server.getLocalPort()
                    + "): connection closed by 127.0.0.1:"
                    + server.getLocalPort()
                    + " before the TLS handshake completed");
        assertThat(shipper.snapshot().lastError()).contains("before the TLS handshake completed");
      }
    }
    closer.get(WAIT.toSeconds(), TimeUnit.SECONDS);
  }

  /**
   * A flood of 200 bad connections from one address (each sends noise, so the standby refuses it at
   * the TLS layer and closes it) writes at most {@link PeerLog#BURST} lines, all under 300
   * characters, and counts the rest as dropped; once the limit refills, the next line says how many
   * were dropped. The limiter's clock stands still during the flood, so the bound is exact.
   */
  @Test
  void aFloodOfBadConnectionsIsHeldToTheLogLimitAndCounted() throws Exception {
    int flood = 200;
    byte[] noise = new byte[512];
    new Random(16).nextBytes(noise);
    for (int i = 0; i < flood; i++) {
      try (Socket s = new Socket(Sites.HOST, receiver.port())) {
        s.getOutputStream().write(noise);
        s.setSoTimeout((int) WAIT.toMillis());
        InputStream in = s.getInputStream();
        try {
          while (in.read() != -1) {
            // the standby's alert, until it closes
          }
        } catch (java.net.SocketException reset) {
          // closed with a reset: refused all the same
        }
      }
    }
    List<String> lines =
        log.lines().stream().filter(l -> l.contains("does not speak TLS")).toList();
    long bytes = lines.stream().mapToLong(String::length).sum();
    System.out.printf(
        "HandshakeRefusalTest: %d bad connections wrote %d lines (%d bytes), %d dropped%n",
        flood, lines.size(), bytes, peerLog.dropped());
    assertThat(lines).hasSize(PeerLog.BURST);
    assertThat(lines).allMatch(l -> l.length() < 300);
    assertThat(peerLog.dropped()).isEqualTo(flood - PeerLog.BURST);
    assertThat(receiver.peerLog().dropped()).isEqualTo(flood - PeerLog.BURST);

    now.addAndGet(PeerLog.REFILL.toNanos());
    try (Socket s = new Socket(Sites.HOST, receiver.port())) {
      s.getOutputStream().write(noise);
    }
    assertThat(log.await("earlier line(s) about this client address dropped", WAIT))
        .contains("(" + (flood - PeerLog.BURST) + " earlier line(s)");
  }
}
