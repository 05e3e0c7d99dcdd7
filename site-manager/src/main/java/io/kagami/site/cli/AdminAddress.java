package io.kagami.site.cli;

import io.kagami.site.config.HostPort;
import java.net.URI;
import java.net.URISyntaxException;
import picocli.CommandLine.Option;

/**
 * The one way every verb names the site it talks to: {@code --admin}, else the environment variable
 * {@code KAGAMI_ADMIN}, else {@value #DEFAULT} (a site's default {@code admin.listen}). Written
 * {@code host:port}, {@code [v6]:port} or {@code http://host:port} (as the demo and the daemon
 * print it). A mixin, so the option reads the same in every verb's help.
 */
final class AdminAddress {
  /** Where a site listens for admin requests unless its YAML says otherwise. */
  static final String DEFAULT = "127.0.0.1:9480";

  @Option(
      names = "--admin",
      paramLabel = "HOST:PORT",
      defaultValue = "${env:KAGAMI_ADMIN:-" + DEFAULT + "}",
      description =
          "The site's admin address (its admin.listen), as host:port or http://host:port. Default: $KAGAMI_ADMIN, else "
              + DEFAULT
              + ".")
  String admin;

  /** The address named, checked; a {@link CliError#usage} that says what is wrong otherwise. */
  HostPort resolve() {
    return parse(admin);
  }

  static HostPort parse(String text) {
    String t = text == null ? "" : text.strip();
    if (t.regionMatches(true, 0, "https://", 0, 8)) {
      throw CliError.usage(
          "--admin " + text + ": a site's admin port speaks plain HTTP, not HTTPS",
          "write it as http://HOST:PORT or HOST:PORT");
    }
    if (t.regionMatches(true, 0, "http://", 0, 7)) {
      try {
        URI uri = new URI(t);
        if (uri.getHost() == null || uri.getPort() < 0) {
          throw CliError.usage(
              "--admin " + text + ": no port in the address",
              "write it as http://HOST:PORT, e.g. http://127.0.0.1:9480");
        }
        String path = uri.getRawPath();
        if (path != null && !path.isEmpty() && !path.equals("/") && !path.equals("/status")) {
          throw CliError.usage(
              "--admin "
                  + text
                  + ": name the site's admin address only, without a path ("
                  + path
                  + ")",
              "write it as http://HOST:PORT");
        }
        String host =
            uri.getHost().startsWith("[")
                ? uri.getHost().substring(1, uri.getHost().length() - 1)
                : uri.getHost();
        return new HostPort(host, uri.getPort());
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
      return hp;
    } catch (IllegalArgumentException e) {
      throw CliError.usage(
          "--admin " + text + ": " + e.getMessage(),
          "write it as HOST:PORT or http://HOST:PORT, e.g. 127.0.0.1:9480");
    }
  }
}
