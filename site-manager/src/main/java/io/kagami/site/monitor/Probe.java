package io.kagami.site.monitor;

import io.kagami.failover.monitor.MonitorConfig;
import io.kagami.failover.monitor.MonitorTracker;
import io.kagami.failover.monitor.ProbeResult;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * The I/O half of an application monitor: one blocking check, bounded by the monitor's timeout,
 * that never throws (a failure is a result). The decision half is {@link MonitorTracker}.
 */
public interface Probe {
  ProbeResult probe() throws InterruptedException;

  /** The probe for a configured monitor. */
  static Probe of(MonitorConfig config) {
    return switch (config) {
      case MonitorConfig.Tcp t -> () -> tcp(t);
      case MonitorConfig.Http h -> () -> http(h);
      case MonitorConfig.Postgres p -> () -> postgres(p);
    };
  }

  private static ProbeResult tcp(MonitorConfig.Tcp t) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(t.host(), t.port()), millis(t.timeout()));
      return ProbeResult.healthy(t.name(), "connected to " + t.host() + ":" + t.port());
    } catch (IOException e) {
      return ProbeResult.failed(
          t.name(), "connect to " + t.host() + ":" + t.port() + " failed: " + e.getMessage());
    }
  }

  private static ProbeResult http(MonitorConfig.Http h) throws InterruptedException {
    try (HttpClient client =
        HttpClient.newBuilder()
            .connectTimeout(h.timeout())
            .followRedirects(HttpClient.Redirect.NEVER)
            .build()) {
      HttpResponse<Void> r =
          client.send(
              HttpRequest.newBuilder(URI.create(h.url())).timeout(h.timeout()).GET().build(),
              HttpResponse.BodyHandlers.discarding());
      int code = r.statusCode();
      return code >= 200 && code < 400
          ? ProbeResult.healthy(h.name(), "GET " + h.url() + " answered " + code)
          : ProbeResult.failed(
              h.name(), "GET " + h.url() + " answered " + code + " (2xx or 3xx expected)");
    } catch (IOException e) {
      return ProbeResult.failed(h.name(), "GET " + h.url() + " failed: " + e);
    }
  }

  /** PostgreSQL's SSLRequest code: 1234 in the high 16 bits, 5679 in the low 16 bits. */
  int SSL_REQUEST_CODE = 80877103;

  private static ProbeResult postgres(MonitorConfig.Postgres p) {
    String at = p.host() + ":" + p.port();
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(p.host(), p.port()), millis(p.timeout()));
      s.setSoTimeout(millis(p.timeout()));
      // SSLRequest: Int32 length 8, Int32 80877103. A live postmaster answers one byte, 'S' or 'N',
      // before any authentication; we then close, which it treats as a client that went away.
      DataOutputStream out = new DataOutputStream(s.getOutputStream());
      out.writeInt(8);
      out.writeInt(SSL_REQUEST_CODE);
      out.flush();
      InputStream in = s.getInputStream();
      int b = in.read();
      return switch (b) {
        case 'S', 'N' ->
            ProbeResult.healthy(
                p.name(), "PostgreSQL at " + at + " answered SSLRequest with '" + (char) b + "'");
        case -1 ->
            ProbeResult.failed(
                p.name(),
                "PostgreSQL at " + at + " closed the connection without answering SSLRequest");
        case 'E' ->
            ProbeResult.failed(
                p.name(),
                "PostgreSQL at "
                    + at
                    + " answered SSLRequest with an error (starting up, shutting down or too many connections?)");
        default ->
            ProbeResult.failed(
                p.name(),
                "server at "
                    + at
                    + " answered SSLRequest with byte 0x"
                    + Integer.toHexString(b)
                    + ", not PostgreSQL's 'S' or 'N'");
      };
    } catch (IOException e) {
      return ProbeResult.failed(p.name(), "PostgreSQL at " + at + ": " + e.getMessage());
    }
  }

  private static int millis(Duration d) {
    return (int) Math.min(Integer.MAX_VALUE, Math.max(1, d.toMillis()));
  }
}
