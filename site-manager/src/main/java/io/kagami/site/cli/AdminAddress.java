package io.kagami.site.cli;

import io.kagami.site.config.HostPort;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The one way every verb names the site it talks to: {@code --admin}, else the environment variable
 * {@code KAGAMI_ADMIN}, else {@value #DEFAULT} (a site's default {@code admin.listen}). Written
 * {@code host:port}, {@code [v6]:port}, {@code http://host:port} or {@code https://host:port} (as
 * the demo and the daemon print it). Without a scheme, a loopback address is plain HTTP and any
 * other HTTPS, as a site's admin port is by default ({@code admin.tls}). Over HTTPS the server is
 * verified against {@code --admin-ca} (else {@code KAGAMI_ADMIN_CA}): the site's {@code site.crt},
 * or the CA that signed its {@code admin.certificate}. A mixin, so the options read the same in
 * every verb's help.
 */
final class AdminAddress {
  /** Where a site listens for admin requests unless its YAML says otherwise. */
  static final String DEFAULT = "127.0.0.1:9480";

  @Option(
      names = "--admin",
      paramLabel = "HOST:PORT",
      defaultValue = "${env:KAGAMI_ADMIN:-" + DEFAULT + "}",
      description =
          "The site's admin address (its admin.listen), as host:port, http://host:port or https://host:port (host:port: plain HTTP on a loopback address, HTTPS elsewhere). Default: $KAGAMI_ADMIN, else "
              + DEFAULT
              + ".")
  String admin;

  @Option(
      names = "--admin-ca",
      paramLabel = "FILE",
      defaultValue = "${env:KAGAMI_ADMIN_CA}",
      description =
          "Over HTTPS, trust the admin server only if its certificate is in, or signed by one in, this PEM file: the site's site.crt (<dataDir>/tls/site.crt or wan.certificate) or the CA of its admin.certificate. Default: $KAGAMI_ADMIN_CA.")
  Path ca;

  /** An admin address and whether it speaks TLS. */
  record Target(HostPort address, boolean tls) {
    /** As written for the operator: {@code https://host:port} or {@code http://host:port}. */
    @Override
    public String toString() {
      return (tls ? "https://" : "http://") + address;
    }
  }

  /** The address named, checked; a {@link CliError#usage} that says what is wrong otherwise. */
  Target resolve() {
    return target(admin);
  }

  static HostPort parse(String text) {
    return target(text).address();
  }

  /**
   * {@code text} as an address and scheme: {@code https://} is TLS, {@code http://} plain, and
   * without a scheme a loopback address is plain and any other TLS.
   */
  static Target target(String text) {
    String t = text == null ? "" : text.strip();
    boolean https = t.regionMatches(true, 0, "https://", 0, 8);
    if (https || t.regionMatches(true, 0, "http://", 0, 7)) {
      String scheme = https ? "https" : "http";
      try {
        URI uri = new URI(t);
        if (uri.getHost() == null || uri.getPort() < 0) {
          throw CliError.usage(
              "--admin " + text + ": no port in the address",
              "write it as " + scheme + "://HOST:PORT, e.g. " + scheme + "://127.0.0.1:9480");
        }
        String path = uri.getRawPath();
        if (path != null && !path.isEmpty() && !path.equals("/") && !path.equals("/status")) {
          throw CliError.usage(
              "--admin "
                  + text
                  + ": name the site's admin address only, without a path ("
                  + path
                  + ")",
              "write it as " + scheme + "://HOST:PORT");
        }
        String host =
            uri.getHost().startsWith("[")
                ? uri.getHost().substring(1, uri.getHost().length() - 1)
                : uri.getHost();
        return new Target(new HostPort(host, uri.getPort()), https);
      } catch (URISyntaxException e) {
        throw CliError.usage(
            "--admin " + text + ": not an address (" + e.getReason() + ")",
            "write it as HOST:PORT or http://HOST:PORT");
      }
    }
    try {
      HostPort hp = HostPort.parse(t);
      if (hp.port() == 0) {
        throw CliError.usage(
            "--admin " + text + ": port 0 names no site",
            "give the site's admin port, e.g. 127.0.0.1:9480");
      }
      return new Target(hp, !hp.isLoopback());
    } catch (IllegalArgumentException e) {
      throw CliError.usage(
          "--admin " + text + ": " + e.getMessage(),
          "write it as HOST:PORT or http://HOST:PORT, e.g. 127.0.0.1:9480");
    }
  }
}
