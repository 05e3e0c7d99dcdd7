package io.kagami.failover.monitor;

import java.time.Duration;
import java.util.regex.Pattern;

/** One application monitor: what to probe and how long a probe may take. */
public sealed interface MonitorConfig {
  Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

  String name();

  Duration timeout();

  /** Healthy when a TCP connection to {@code host:port} opens. */
  record Tcp(String name, String host, int port, Duration timeout) implements MonitorConfig {
    public Tcp {
      timeout = check(name, timeout);
      checkHostPort(name, host, port);
    }
  }

  /**
   * Healthy when {@code GET url} answers 2xx or 3xx (redirects are not followed). The URL is text
   * here (this module does no networking); the prober parses it.
   */
  record Http(String name, String url, Duration timeout) implements MonitorConfig {
    /**
     * http or https, a host name, an IPv4 address or a bracketed IPv6 one, an optional port and
     * path.
     */
    private static final Pattern HTTP_URL =
        Pattern.compile(
            "https?://([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\\[[0-9A-Fa-f:.]+\\])(:[0-9]{1,5})?([/?#][^\\s]*)?");

    public Http {
      timeout = check(name, timeout);
      if (url == null || !HTTP_URL.matcher(url).matches()) {
        throw new IllegalArgumentException(
            "monitor \"" + name + "\": url " + url + " is not an http(s) URL with a host");
      }
    }
  }

  /**
   * Healthy when a PostgreSQL server answers an SSLRequest with 'S' or 'N': the postmaster is up
   * and accepting connections, without credentials and without a backend process.
   */
  record Postgres(String name, String host, int port, Duration timeout) implements MonitorConfig {
    public Postgres {
      timeout = check(name, timeout);
      checkHostPort(name, host, port);
    }
  }

  private static Duration check(String name, Duration timeout) {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("a monitor needs a name");
    }
    Duration t = timeout == null ? DEFAULT_TIMEOUT : timeout;
    if (t.isNegative() || t.isZero()) {
      throw new IllegalArgumentException(
          "monitor \"" + name + "\": timeout must be positive, got " + t);
    }
    return t;
  }

  private static void checkHostPort(String name, String host, int port) {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("monitor \"" + name + "\": host is missing");
    }
    if (port < 1 || port > 65535) {
      throw new IllegalArgumentException(
          "monitor \"" + name + "\": port " + port + " is out of range 1-65535");
    }
  }
}
