package io.kagami.site.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.site.admin.AdminServer;
import io.kagami.site.config.BandwidthSchedule;
import io.kagami.site.config.HostPort;
import io.kagami.site.link.BandwidthControl;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.ResourceLock;

/** {@code kagami link ...} against a real admin server on an ephemeral loopback port. */
@ResourceLock("java.lang.System.out")
class LinkCommandTest {
  private final List<Long> applied = new CopyOnWriteArrayList<>();
  private AdminServer server;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private PrintStream savedOut;
  private PrintStream savedErr;

  @BeforeEach
  void start() {
    server =
        new AdminServer(
            new HostPort("127.0.0.1", 0),
            () -> null,
            () -> "",
            new BandwidthControl(0, BandwidthSchedule.NONE, SystemTime.WALL, applied::add));
    server.start();
    savedOut = System.out;
    savedErr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @AfterEach
  void stop() {
    System.setOut(savedOut);
    System.setErr(savedErr);
    server.close();
  }

  private int kagami(String... args) {
    out.reset();
    err.reset();
    return Main.run(args);
  }

  @Test
  void setShowAndClearTheCapOfARunningPrimary() {
    String admin = "127.0.0.1:" + server.port();
    assertThat(kagami("link", "set", "--bandwidth", "1500KB", "--admin", admin)).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8))
        .contains("bandwidth cap 1500 KB/s (12.0 Mbit/s) (from override)");
    assertThat(applied).containsExactly(1_500_000L);

    assertThat(kagami("link", "show", "--admin", admin)).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8))
        .contains("override 1500 KB/s")
        .contains("configured (wan.bandwidth) unlimited");

    assertThat(kagami("link", "clear", "--admin", admin)).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8))
        .contains("bandwidth cap unlimited (from config)");
    assertThat(applied).containsExactly(1_500_000L, 0L);
  }

  @Test
  void aBadRateOrNoSiteIsExplained() {
    // A bad rate is a usage error (exit 2), a dead address is unreachable (exit 4): see ExitCode.
    assertThat(
            kagami("link", "set", "--bandwidth", "fast", "--admin", "127.0.0.1:" + server.port()))
        .isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("\"fast\" is not a rate");
    assertThat(applied).isEmpty();
    int port = server.port();
    server.close();
    assertThat(kagami("link", "show", "--admin", "127.0.0.1:" + port)).isEqualTo(4);
    assertThat(err.toString(StandardCharsets.UTF_8)).contains("no site answers at 127.0.0.1:");
  }
}
