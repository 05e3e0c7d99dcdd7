package io.kagami.testkit.toxi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import eu.rekawek.toxiproxy.Proxy;
import eu.rekawek.toxiproxy.model.ToxicDirection;
import eu.rekawek.toxiproxy.model.toxic.Latency;
import eu.rekawek.toxiproxy.model.toxic.Timeout;
import io.kagami.clock.SystemTime;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What each toxic does to a connection, as a client observes it. Timing assertions are lower bounds
 * (a toxic must delay at least this much) with generous upper bounds (it must not hang), so a busy
 * machine cannot fail them. Runs against a real Toxiproxy when {@code TOXIPROXY_URL} is set.
 */
class ToxicEffectsTest {
  private static final Duration BOUND = Duration.ofSeconds(10);

  private Toxiproxies toxiproxies;
  private LoopbackUpstream upstream;

  @BeforeEach
  void start() throws IOException {
    toxiproxies = Toxiproxies.start(7);
  }

  @AfterEach
  void stop() throws IOException {
    try {
      toxiproxies.close();
    } finally {
      if (upstream != null) {
        upstream.close();
      }
    }
  }

  private Proxy proxyTo(String name, LoopbackUpstream server) throws IOException {
    upstream = server;
    return toxiproxies.proxy(name, server.address());
  }

  private InetSocketAddress through(Proxy proxy) {
    return toxiproxies.listenAddress(proxy);
  }

  @Test
  void latencyDelaysEachDirectionByAtLeastItsLatency() throws IOException {
    Proxy proxy = proxyTo("fx-latency", LoopbackUpstream.echo());
    proxy.toxics().latency("fx-latency-down", ToxicDirection.DOWNSTREAM, 150);
    proxy.toxics().latency("fx-latency-up", ToxicDirection.UPSTREAM, 100).setJitter(50);

    try (Socket socket = Wire.connect(through(proxy))) {
      for (int i = 0; i < 3; i++) {
        long millis = Wire.echoRoundTripMillis(socket, ("ping " + i).getBytes(), BOUND);
        assertThat(millis)
            .as("round trip %d through 150 ms down + 100±50 ms up", i)
            .isGreaterThanOrEqualTo(150 + 50)
            .isLessThan(5_000);
      }
    }
  }

  @Test
  void latencyAddedToALiveConnectionAppliesAndItsRemovalReleasesHeldData() throws IOException {
    Proxy proxy = proxyTo("fx-latency-live", LoopbackUpstream.echo());
    try (Socket socket = Wire.connect(through(proxy))) {
      Wire.echoRoundTripMillis(socket, new byte[] {1}, BOUND);
      Latency latency =
          proxy.toxics().latency("fx-latency-live-down", ToxicDirection.DOWNSTREAM, 20_000);

      socket.getOutputStream().write(new byte[] {2, 3});
      assertThat(Wire.staysSilent(socket, Duration.ofMillis(300)))
          .as("the echo is held by a 20 s latency")
          .isTrue();
      long removedAt = SystemTime.NANO.nanoTime();
      latency.remove();

      assertThat(Wire.readExactly(socket, 2, BOUND)).containsExactly(2, 3);
      assertThat((SystemTime.NANO.nanoTime() - removedAt) / 1_000_000)
          .as("held data is released when the toxic goes, not after 20 s")
          .isLessThan(5_000);
    }
  }

  @Test
  void zeroToxicityLeavesConnectionsUntouched() throws IOException {
    Proxy proxy = proxyTo("fx-toxicity", LoopbackUpstream.echo());
    proxy.toxics().latency("fx-toxicity-latency", ToxicDirection.DOWNSTREAM, 5_000).setToxicity(0f);

    try (Socket socket = Wire.connect(through(proxy))) {
      assertThat(Wire.echoRoundTripMillis(socket, new byte[] {9}, BOUND))
          .as("a toxic with toxicity 0 never applies")
          .isLessThan(2_500);
    }
  }

  @Test
  void bandwidthLimitsTheTransferRate() throws IOException {
    byte[] payload = Wire.randomBytes(1, 60_000);
    Proxy proxy = proxyTo("fx-bandwidth", LoopbackUpstream.sending(payload));
    proxy.toxics().bandwidth("fx-bandwidth-down", ToxicDirection.DOWNSTREAM, 50); // 50 KB/s

    try (Socket socket = Wire.connect(through(proxy))) {
      long start = SystemTime.NANO.nanoTime();
      Wire.Received received = Wire.readToEnd(socket, BOUND);

      long millis = (received.endNanos() - start) / 1_000_000;
      assertThat(received.bytes()).as("all bytes arrive, in order").isEqualTo(payload);
      assertThat(millis)
          .as("60 KB at 50 KB/s (ideally 1.2 s)")
          .isGreaterThanOrEqualTo(1_000)
          .isLessThan(8_000);
    }
  }

  @Test
  void removingBandwidthFromALiveTransferReleasesTheRestAtOnce() throws IOException {
    byte[] payload = Wire.randomBytes(4, 40_000);
    Proxy proxy = proxyTo("fx-bandwidth-live", LoopbackUpstream.sending(payload));
    var bandwidth =
        proxy
            .toxics()
            .bandwidth("fx-bandwidth-live-down", ToxicDirection.DOWNSTREAM, 1); // 1 KB/s: 40 s

    try (Socket socket = Wire.connect(through(proxy))) {
      byte[] first = Wire.readExactly(socket, 100, BOUND);
      long removedAt = SystemTime.NANO.nanoTime();
      bandwidth.remove();
      Wire.Received rest = Wire.readToEnd(socket, BOUND);

      assertThat((rest.endNanos() - removedAt) / 1_000_000)
          .as("the rest comes at once, not at 1 KB/s")
          .isLessThan(5_000);
      byte[] all = Arrays.copyOf(first, first.length + rest.bytes().length);
      System.arraycopy(rest.bytes(), 0, all, first.length, rest.bytes().length);
      assertThat(all).as("nothing held by the removed toxic is lost").isEqualTo(payload);
    }
  }

  @Test
  void slowCloseDelaysTheClose() throws IOException {
    byte[] goodbye = "bye".getBytes();
    Proxy proxy = proxyTo("fx-slow-close", LoopbackUpstream.sending(goodbye));
    proxy.toxics().slowClose("fx-slow-close-down", ToxicDirection.DOWNSTREAM, 600);

    // Timed from before the connect: the upstream may close, and the toxic's delay start, before
    // connect() returns here (timing from after it measured 597 ms once).
    long connecting = SystemTime.NANO.nanoTime();
    try (Socket socket = Wire.connect(through(proxy))) {
      Wire.Received received = Wire.readToEnd(socket, BOUND);

      assertThat(received.bytes()).isEqualTo(goodbye);
      assertThat((received.endNanos() - connecting) / 1_000_000)
          .as("the upstream closed at once; the client sees it 600 ms later")
          .isGreaterThanOrEqualTo(600);
    }
  }

  @Test
  void timeoutStopsDataAndClosesAfterTheTimeout() throws IOException {
    Proxy proxy = proxyTo("fx-timeout", LoopbackUpstream.echo());
    proxy.toxics().timeout("fx-timeout-up", ToxicDirection.UPSTREAM, 400);

    long connecting = SystemTime.NANO.nanoTime(); // before the connect, as above
    try (Socket socket = Wire.connect(through(proxy))) {
      socket.getOutputStream().write("lost".getBytes());
      Wire.Received received = Wire.readToEnd(socket, BOUND);

      assertThat(received.bytes()).as("no data passes a timeout toxic").isEmpty();
      assertThat((received.endNanos() - connecting) / 1_000_000)
          .as("closed after the 400 ms timeout")
          .isGreaterThanOrEqualTo(400);
    }
  }

  @Test
  void timeoutZeroHoldsTheConnectionOpenUntilRemovedThenNewConnectionsFlow() throws IOException {
    Proxy proxy = proxyTo("fx-timeout-zero", LoopbackUpstream.echo());
    try (Socket socket = Wire.connect(through(proxy))) {
      Wire.echoRoundTripMillis(socket, new byte[] {1}, BOUND);
      Timeout blackhole = proxy.toxics().timeout("fx-timeout-zero-up", ToxicDirection.UPSTREAM, 0);

      socket.getOutputStream().write(new byte[] {2});
      assertThat(Wire.staysSilent(socket, Duration.ofMillis(500)))
          .as("neither data nor a close while the timeout(0) toxic is there")
          .isTrue();
      blackhole.remove();

      // As in Toxiproxy, removing a timeout toxic closes the connections it held (its data was
      // dropped).
      assertThat(readsEndOrReset(socket)).isTrue();
    }
    try (Socket fresh = Wire.connect(through(proxy))) {
      assertThat(Wire.echoRoundTripMillis(fresh, new byte[] {3}, BOUND)).isLessThan(5_000);
    }
  }

  @Test
  void resetPeerResetsTheConnection() throws IOException {
    Proxy proxy = proxyTo("fx-reset", LoopbackUpstream.echo());
    proxy.toxics().resetPeer("fx-reset-up", ToxicDirection.UPSTREAM, 100);

    try (Socket socket = Wire.connect(through(proxy))) {
      socket.getOutputStream().write("trigger".getBytes());

      assertThatThrownBy(() -> Wire.readToEnd(socket, BOUND))
          .as("the client sees a TCP RST, not a clean close")
          .isInstanceOf(SocketException.class)
          .hasMessageContaining("reset");
    }
  }

  @Test
  void slicerDeliversTheSameBytesInMoreReads() throws IOException {
    byte[] payload = Wire.randomBytes(2, 20_000);
    Proxy proxy = proxyTo("fx-slicer", LoopbackUpstream.sending(payload));
    proxy
        .toxics()
        .slicer("fx-slicer-down", ToxicDirection.DOWNSTREAM, 500, 2_000)
        .setSizeVariation(100); // 2 ms apart

    try (Socket socket = Wire.connect(through(proxy))) {
      Wire.Received received = Wire.readToEnd(socket, BOUND);

      assertThat(received.bytes()).isEqualTo(payload);
      assertThat(received.reads())
          .as("20 KB in ~500-byte slices 2 ms apart arrives in many reads")
          .isGreaterThanOrEqualTo(10);
    }
  }

  @Test
  void limitDataDeliversExactlyTheLimitThenCloses() throws IOException {
    byte[] payload = Wire.randomBytes(3, 50_000);
    Proxy proxy = proxyTo("fx-limit", LoopbackUpstream.sending(payload));
    proxy.toxics().limitData("fx-limit-down", ToxicDirection.DOWNSTREAM, 10_000);

    try (Socket socket = Wire.connect(through(proxy))) {
      Wire.Received received = Wire.readToEnd(socket, BOUND);

      assertThat(received.bytes())
          .as("exactly the first 10 000 bytes")
          .isEqualTo(Arrays.copyOf(payload, 10_000));
    }
  }

  private static boolean readsEndOrReset(Socket socket) throws IOException {
    try {
      Wire.readToEnd(socket, BOUND);
      return true;
    } catch (SocketException reset) {
      return true;
    }
  }
}
