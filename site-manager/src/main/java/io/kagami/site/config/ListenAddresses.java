package io.kagami.site.config;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Finds listen addresses of one configuration that would take the same port: the same host and
 * port, or a wildcard ({@code 0.0.0.0}: every IPv4 address; {@code ::}: every address) and any
 * other host on the same port, which Linux refuses as "address in use" once the first is bound.
 * Port 0 (any free port) never clashes. Pure: hosts are compared as written, after IP literals are
 * normalised and {@code localhost} is read as the loopback address; no name is looked up.
 */
final class ListenAddresses {
  private ListenAddresses() {}

  /**
   * Adds a problem for each address in {@code byKey} (key to address, in file order; null values
   * skipped) that clashes with an earlier one.
   */
  static void check(Map<String, HostPort> byKey, Problems p) {
    List<Map.Entry<String, HostPort>> seen = new ArrayList<>();
    for (Map.Entry<String, HostPort> e : byKey.entrySet()) {
      HostPort a = e.getValue();
      if (a == null || a.port() == 0) {
        continue;
      }
      for (Map.Entry<String, HostPort> earlier : seen) {
        HostPort b = earlier.getValue();
        if (a.port() == b.port() && overlap(a.host(), b.host())) {
          p.add(
              e.getKey(),
              e.getKey()
                  + " "
                  + a
                  + " clashes with "
                  + earlier.getKey()
                  + " "
                  + b
                  + ": both would listen on port "
                  + a.port()
                  + (wildcard(a.host()) || wildcard(b.host())
                      ? " (0.0.0.0 and :: take the port on every address of this machine)"
                      : "")
                  + "; give each its own port");
          break;
        }
      }
      seen.add(e);
    }
  }

  private static boolean overlap(String a, String b) {
    String x = normal(a);
    String y = normal(b);
    if (x.equals(y) || x.equals("::") || y.equals("::")) {
      return true;
    }
    // 0.0.0.0 takes every IPv4 address (and names, which resolve to one here).
    return (x.equals("0.0.0.0") && !y.contains(":")) || (y.equals("0.0.0.0") && !x.contains(":"));
  }

  private static boolean wildcard(String host) {
    String n = normal(host);
    return n.equals("0.0.0.0") || n.equals("::");
  }

  private static String normal(String host) {
    String h = host.toLowerCase(Locale.ROOT);
    if (h.equals("localhost")) {
      return "127.0.0.1";
    }
    if (h.equals("*")) {
      return "0.0.0.0";
    }
    try {
      InetAddress literal = InetAddress.ofLiteral(h);
      return literal.isAnyLocalAddress()
          ? (h.contains(":") ? "::" : "0.0.0.0")
          : literal.getHostAddress();
    } catch (IllegalArgumentException notALiteral) {
      return h;
    }
  }
}
