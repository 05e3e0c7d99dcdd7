package io.kagami.site.recovery;

import com.fasterxml.jackson.annotation.JsonValue;

/**
 * How a recovered server proves it is up, so that the next priority group and its dependants may
 * start (as SRM waits for a guest heartbeat): a TCP port that accepts, an HTTP URL that answers
 * 2xx, or a marker line on its serial console (e.g. {@code login:}). {@link None}: started is
 * enough.
 */
public sealed interface HealthCheck {
  /** How the check reads in the plan and in recovery.yaml, e.g. {@code tcp 10.0.0.5:5432}. */
  @JsonValue
  String describe();

  /** A TCP connection to {@code host:port} is accepted. */
  record Tcp(String host, int port) implements HealthCheck {
    @Override
    public String describe() {
      return "tcp " + host + ":" + port;
    }
  }

  /** {@code GET url} answers 2xx. */
  record Http(String url) implements HealthCheck {
    @Override
    public String describe() {
      return "http " + url;
    }
  }

  /** A line of the serial console contains {@code marker}. */
  record ConsoleMarker(String marker) implements HealthCheck {
    @Override
    public String describe() {
      return "console \"" + marker + "\"";
    }
  }

  /** No check: the server counts as up once its VM runs. */
  record None() implements HealthCheck {
    @Override
    public String describe() {
      return "none";
    }
  }
}
