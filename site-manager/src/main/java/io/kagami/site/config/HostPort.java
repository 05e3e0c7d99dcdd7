package io.kagami.site.config;

/** A listen or connect address written {@code host:port} ({@code [v6]:port} for IPv6). */
public record HostPort(String host, int port) {
  public HostPort {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("address has no host");
    }
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port " + port + " is out of range 0-65535");
    }
  }

  public static HostPort parse(String text) {
    if (text == null) {
      throw new IllegalArgumentException("address is missing (expected host:port)");
    }
    String t = text.trim();
    int colon = t.lastIndexOf(':');
    if (colon <= 0 || colon == t.length() - 1) {
      throw new IllegalArgumentException("\"" + text + "\" is not host:port");
    }
    String host = t.substring(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
      host = host.substring(1, host.length() - 1);
    }
    try {
      return new HostPort(host, Integer.parseInt(t.substring(colon + 1)));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("\"" + text + "\": port is not a number");
    }
  }

  /**
   * True when the host is a loopback address (127.0.0.0/8, ::1) or a name that resolves to one
   * ({@code localhost}); the wildcard address is not loopback (it listens on every interface).
   */
  public boolean isLoopback() {
    try {
      return java.net.InetAddress.getByName(host).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  @Override
  public String toString() {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }
}
