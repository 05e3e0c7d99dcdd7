package io.kagami.testkit.toxi;

import static org.assertj.core.api.Assertions.assertThat;

import eu.rekawek.toxiproxy.Proxy;
import eu.rekawek.toxiproxy.model.ToxicDirection;
import eu.rekawek.toxiproxy.model.ToxicList;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Toxics that only shape the stream must not change a byte of it: random data echoed through the
 * proxy comes back with the same SHA-256, under each such toxic, all of them together, and many
 * connections at once. Runs against a real Toxiproxy when {@code TOXIPROXY_URL} is set.
 */
class RelayIntegrityTest {
  private static final Duration BOUND = Duration.ofSeconds(30);

  private LoopbackUpstream echo;
  private Toxiproxies toxiproxies;

  @BeforeEach
  void start() throws IOException {
    echo = LoopbackUpstream.echo();
    toxiproxies = Toxiproxies.start(11);
  }

  @AfterEach
  void stop() throws IOException {
    try {
      toxiproxies.close();
    } finally {
      echo.close();
    }
  }

  interface ToxicSetup {
    void apply(ToxicList toxics) throws IOException;
  }

  static Stream<Arguments> shapingToxics() {
    return Stream.of(
        Arguments.of("none", (ToxicSetup) toxics -> {}),
        Arguments.of(
            "latency with jitter",
            (ToxicSetup)
                toxics -> {
                  toxics.latency("i-latency-up", ToxicDirection.UPSTREAM, 20).setJitter(10);
                  toxics.latency("i-latency-down", ToxicDirection.DOWNSTREAM, 20).setJitter(10);
                }),
        Arguments.of(
            "bandwidth",
            (ToxicSetup)
                toxics -> toxics.bandwidth("i-bandwidth-down", ToxicDirection.DOWNSTREAM, 20_000)),
        Arguments.of(
            "slicer",
            (ToxicSetup)
                toxics -> {
                  toxics
                      .slicer("i-slicer-up", ToxicDirection.UPSTREAM, 1_500, 0)
                      .setSizeVariation(700);
                  toxics
                      .slicer("i-slicer-down", ToxicDirection.DOWNSTREAM, 900, 5)
                      .setSizeVariation(300);
                }),
        Arguments.of(
            "slow_close",
            (ToxicSetup)
                toxics -> toxics.slowClose("i-slow-close-down", ToxicDirection.DOWNSTREAM, 100)),
        Arguments.of(
            "all shaping toxics chained",
            (ToxicSetup)
                toxics -> {
                  toxics.latency("i-all-latency", ToxicDirection.DOWNSTREAM, 15).setJitter(5);
                  toxics
                      .slicer("i-all-slicer", ToxicDirection.DOWNSTREAM, 2_000, 0)
                      .setSizeVariation(500);
                  toxics.bandwidth("i-all-bandwidth", ToxicDirection.DOWNSTREAM, 30_000);
                  toxics.slowClose("i-all-slow-close", ToxicDirection.UPSTREAM, 50);
                  toxics.latency("i-all-latency-up", ToxicDirection.UPSTREAM, 10);
                }));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("shapingToxics")
  void echoedBytesAreUnchanged(String description, ToxicSetup setup) throws Exception {
    Proxy proxy = toxiproxies.proxy("integrity", echo.address());
    setup.apply(proxy.toxics());
    byte[] payload = Wire.randomBytes(description.hashCode(), 1 << 20);

    byte[] echoed = echoThrough(toxiproxies.listenAddress(proxy), payload);

    assertThat(Wire.sha256(echoed))
        .as("SHA-256 of 1 MiB echoed through %s", description)
        .isEqualTo(Wire.sha256(payload));
  }

  @Test
  void manyConcurrentConnectionsEachKeepTheirBytes() throws Exception {
    Proxy proxy = toxiproxies.proxy("integrity-many", echo.address());
    proxy.toxics().latency("many-latency", ToxicDirection.DOWNSTREAM, 30).setJitter(10);
    proxy.toxics().slicer("many-slicer", ToxicDirection.UPSTREAM, 4_000, 0).setSizeVariation(1_000);
    InetSocketAddress address = toxiproxies.listenAddress(proxy);
    int connections = 48;

    try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<Boolean>> results = new ArrayList<>();
      for (int i = 0; i < connections; i++) {
        byte[] payload = Wire.randomBytes(1_000 + i, 64 * 1024);
        results.add(
            clients.submit(
                () -> Wire.sha256(echoThrough(address, payload)).equals(Wire.sha256(payload))));
      }
      int intact = 0;
      for (Future<Boolean> result : results) {
        intact += result.get(BOUND.toSeconds(), TimeUnit.SECONDS) ? 1 : 0;
      }
      assertThat(intact).as("connections whose 64 KiB came back unchanged").isEqualTo(connections);
    }
  }

  /** Writes {@code payload} from another thread while reading the echo, so neither side stalls. */
  private static byte[] echoThrough(InetSocketAddress address, byte[] payload) throws Exception {
    try (Socket socket = Wire.connect(address);
        ExecutorService writer = Executors.newVirtualThreadPerTaskExecutor()) {
      Future<?> written =
          writer.submit(
              () -> {
                OutputStream out = socket.getOutputStream();
                for (int offset = 0; offset < payload.length; offset += 16 * 1024) {
                  out.write(payload, offset, Math.min(16 * 1024, payload.length - offset));
                }
                return null;
              });
      byte[] echoed = Wire.readExactly(socket, payload.length, BOUND);
      written.get(BOUND.toSeconds(), TimeUnit.SECONDS);
      return echoed;
    }
  }
}
