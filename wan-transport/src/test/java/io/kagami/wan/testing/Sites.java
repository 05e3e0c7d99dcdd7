package io.kagami.wan.testing;

import io.kagami.wan.receive.ReceiverConfig;
import io.kagami.wan.ship.ShipperConfig;
import io.kagami.wan.tls.SiteCredentials;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Site identities for tests, generated into a temporary directory: primaries "tokyo" and "osaka",
 * the standby "hiroshima", and an impostor that calls itself "tokyo" with a key pair of its own.
 * Configurations use loopback, an ephemeral port and short timings.
 */
public final class Sites {
  public static final String HOST = "127.0.0.1";
  public final SiteCredentials tokyo;
  public final SiteCredentials osaka;
  public final SiteCredentials hiroshima;
  public final SiteCredentials impostor;

  public Sites(Path dir) {
    tokyo = SiteCredentials.loadOrCreate(dir.resolve("tokyo"), "tokyo");
    osaka = SiteCredentials.loadOrCreate(dir.resolve("osaka"), "osaka");
    hiroshima = SiteCredentials.loadOrCreate(dir.resolve("hiroshima"), "hiroshima");
    impostor = SiteCredentials.loadOrCreate(dir.resolve("impostor"), "tokyo");
  }

  /** tokyo → hiroshima at {@code port}; reconnects within 10..200 ms, heartbeat 500 ms. */
  public ShipperConfig shipper(int port) {
    return shipper(tokyo, port);
  }

  public ShipperConfig shipper(SiteCredentials primary, int port) {
    return ShipperConfig.defaults(HOST, port, primary, hiroshima.certificate())
        .withReconnect(Duration.ofMillis(10), Duration.ofMillis(200))
        .withHeartbeat(Duration.ofMillis(500));
  }

  /** hiroshima on an ephemeral loopback port, paired with tokyo and osaka; heartbeat 500 ms. */
  public ReceiverConfig receiver() {
    return ReceiverConfig.defaults(
            HOST, 0, hiroshima, List.of(tokyo.certificate(), osaka.certificate()))
        .withHeartbeat(Duration.ofMillis(500));
  }
}
