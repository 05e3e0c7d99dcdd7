package io.kagami.site.monitor;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.kagami.failover.monitor.MonitorConfig;
import io.kagami.failover.monitor.MonitorTracker;
import io.kagami.failover.monitor.ProbeResult;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Probes against real loopback listeners; the tracker against their results. */
class ProbeTest {
  private static final Duration T = Duration.ofSeconds(3);

  private static int closedPort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Test
  void tcpProbeSeesAListenerAndItsAbsence() throws Exception {
    try (ServerSocket listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
      ProbeResult up =
          Probe.of(new MonitorConfig.Tcp("app", "127.0.0.1", listener.getLocalPort(), T)).probe();
      assertThat(up.healthy()).as(up.detail()).isTrue();
    }
    ProbeResult down = Probe.of(new MonitorConfig.Tcp("app", "127.0.0.1", closedPort(), T)).probe();
    assertThat(down.healthy()).isFalse();
    assertThat(down.detail()).startsWith("connect to 127.0.0.1:");
  }

  @Test
  void httpProbeCounts2xxAnd3xxAsHealthy() throws Exception {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 8);
    server.createContext(
        "/ok",
        ex -> {
          ex.sendResponseHeaders(200, -1);
          ex.close();
        });
    server.createContext(
        "/moved",
        ex -> {
          ex.getResponseHeaders().set("Location", "/ok");
          ex.sendResponseHeaders(302, -1);
          ex.close();
        });
    server.createContext(
        "/broken",
        ex -> {
          ex.sendResponseHeaders(503, -1);
          ex.close();
        });
    server.start();
    try {
      String base = "http://127.0.0.1:" + server.getAddress().getPort();
      assertThat(Probe.of(new MonitorConfig.Http("web", base + "/ok", T)).probe().healthy())
          .isTrue();
      assertThat(Probe.of(new MonitorConfig.Http("web", base + "/moved", T)).probe().detail())
          .endsWith("answered 302");
      ProbeResult broken = Probe.of(new MonitorConfig.Http("web", base + "/broken", T)).probe();
      assertThat(broken.healthy()).isFalse();
      assertThat(broken.detail()).contains("answered 503 (2xx or 3xx expected)");
    } finally {
      server.stop(0);
    }
    assertThat(
            Probe.of(new MonitorConfig.Http("web", "http://127.0.0.1:" + closedPort() + "/", T))
                .probe()
                .healthy())
        .isFalse();
  }

  /** A fake postmaster: reads one SSLRequest, checks its code, answers {@code reply}. */
  private static Thread fakePostgres(ServerSocket listener, int reply, AtomicInteger sslRequests) {
    return Thread.ofVirtual()
        .start(
            () -> {
              try (Socket s = listener.accept()) {
                DataInputStream in = new DataInputStream(s.getInputStream());
                int length = in.readInt();
                int code = in.readInt();
                if (length == 8 && code == 80877103) {
                  sslRequests.incrementAndGet();
                }
                s.getOutputStream().write(reply);
                s.getOutputStream().flush();
              } catch (IOException e) {
                // the probe went away; the assertions tell
              }
            });
  }

  @Test
  void postgresProbeSpeaksSslRequest() throws Exception {
    AtomicInteger sslRequests = new AtomicInteger();
    try (ServerSocket listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
      Thread pg = fakePostgres(listener, 'N', sslRequests);
      ProbeResult r =
          Probe.of(new MonitorConfig.Postgres("pg", "127.0.0.1", listener.getLocalPort(), T))
              .probe();
      pg.join(5_000);
      assertThat(r.healthy()).as(r.detail()).isTrue();
      assertThat(r.detail()).contains("answered SSLRequest with 'N'");
      assertThat(sslRequests).hasValue(1);
    }
    try (ServerSocket listener = new ServerSocket(0, 8, InetAddress.getLoopbackAddress())) {
      Thread notPg = fakePostgres(listener, 'H', sslRequests); // e.g. an HTTP server's first byte
      ProbeResult r =
          Probe.of(new MonitorConfig.Postgres("pg", "127.0.0.1", listener.getLocalPort(), T))
              .probe();
      notPg.join(5_000);
      assertThat(r.healthy()).isFalse();
      assertThat(r.detail()).contains("not PostgreSQL's 'S' or 'N'");
    }
    assertThat(
            Probe.of(new MonitorConfig.Postgres("pg", "127.0.0.1", closedPort(), T))
                .probe()
                .healthy())
        .isFalse();
  }

  @Test
  void trackerRequestsFailoverAfterNConsecutiveProbeFailures() throws Exception {
    MonitorConfig.Tcp app = new MonitorConfig.Tcp("app", "127.0.0.1", closedPort(), T);
    MonitorTracker tracker = new MonitorTracker(List.of(app), 3);
    Probe probe = Probe.of(app);
    tracker.record(probe.probe());
    tracker.record(probe.probe());
    assertThat(tracker.failoverRequest()).isNull();
    tracker.record(probe.probe());
    assertThat(tracker.failoverRequest())
        .startsWith("monitor \"app\" failed 3 times in a row (threshold 3): connect to 127.0.0.1:");
    tracker.record(ProbeResult.healthy("app", "connected"));
    assertThat(tracker.failoverRequest()).isNull();
    assertThat(tracker.status().getFirst().consecutiveFailures()).isZero();
  }
}
