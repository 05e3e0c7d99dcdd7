package io.kagami.site.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.site.admin.AdminToken;
import io.kagami.site.auth.BearerToken;
import io.kagami.site.auth.HttpTls;
import io.kagami.site.config.HostPort;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;

/**
 * The CLI's HTTP calls to one site's admin port. Every outcome other than a JSON answer with HTTP
 * 200 becomes a {@link CliError} with its exit code and what to do next: nothing listening or not
 * an admin port ({@link ExitCode#UNREACHABLE}), an answer that refuses ({@link ExitCode#REFUSED}:
 * HTTP 4xx, the site's own reason, never its raw JSON), a site error or an unknown outcome ({@link
 * ExitCode#FAILED}). Requests that change the site carry its admin token when one is found ({@link
 * AdminToken#forClient}).
 *
 * <p>Over HTTPS the server must present a certificate that the {@code --admin-ca} file holds or
 * signed ({@link HttpTls#client}); any other is refused before a request is sent, as unreachable
 * ("presented a certificate not signed by …"). A token is never sent over plain HTTP to an address
 * that is not loopback: such a request is refused as a usage error before anything is sent.
 */
final class AdminClient {
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

  private final HostPort admin;
  private final boolean tls;
  private final Path ca;
  private final Map<String, String> env;

  AdminClient(HostPort admin, Map<String, String> env) {
    this(admin, false, null, env);
  }

  /**
   * {@code tls}: HTTPS, verifying the server against the PEM file {@code ca} (required then); plain
   * HTTP otherwise.
   */
  AdminClient(HostPort admin, boolean tls, Path ca, Map<String, String> env) {
    this.admin = admin;
    this.tls = tls;
    this.ca = ca;
    this.env = env;
  }

  static AdminClient of(AdminAddress address) {
    AdminAddress.Target t = address.resolve();
    return new AdminClient(t.address(), t.tls(), address.ca, System.getenv());
  }

  /** {@code https://host:port} or {@code http://host:port}. */
  private String shown() {
    return (tls ? "https://" : "http://") + admin;
  }

  /** The TLS context that verifies the server against {@link #ca}, or a usage error. */
  private SSLContext tlsContext() {
    if (ca == null || ca.toString().isBlank()) {
      throw CliError.usage(
          "the admin port at "
              + shown()
              + " speaks HTTPS, and nothing says which certificate it must present",
          "pass --admin-ca FILE (or set KAGAMI_ADMIN_CA): the site's site.crt (<dataDir>/tls/site.crt, or its wan.certificate), or the CA that signed its admin.certificate");
    }
    try {
      return HttpTls.client(ca);
    } catch (IllegalArgumentException e) {
      throw CliError.usage("--admin-ca: " + e.getMessage(), "name a PEM certificate file");
    }
  }

  HostPort address() {
    return admin;
  }

  JsonNode get(String path) {
    return send("GET", path, null, REQUEST_TIMEOUT);
  }

  /**
   * {@code method path} with {@code body} (a JSON value, or null for none), answered within {@code
   * timeout}.
   */
  JsonNode send(String method, String path, Object body, Duration timeout) {
    boolean changes = !method.equals("GET");
    if (changes && !tls && !new HostPort(connectHost(admin), admin.port()).isLoopback()) {
      throw CliError.usage(
          "refusing to send the admin token over plain HTTP to "
              + admin
              + ", which is not a loopback address: anyone on the network could read it; nothing was sent",
          "a site's admin port off loopback speaks HTTPS: write --admin https://"
              + admin
              + " (or just "
              + admin
              + ") with --admin-ca FILE");
    }
    SSLContext ssl = tls ? tlsContext() : null;
    HttpRequest.Builder request =
        HttpRequest.newBuilder(
                URI.create((tls ? "https://" : "http://") + connectable(admin) + path))
            .timeout(timeout);
    try {
      request.method(
          method,
          body == null
              ? HttpRequest.BodyPublishers.noBody()
              : HttpRequest.BodyPublishers.ofString(Json.MAPPER.writeValueAsString(body)));
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot encode the request body", e);
    }
    if (body != null) {
      request.header("Content-Type", "application/json");
    }
    BearerToken token = null;
    if (changes) {
      try {
        token = AdminToken.forClient(env, admin.port(), isThisMachine(admin.host()));
      } catch (IllegalStateException e) {
        throw CliError.usage(e.getMessage(), "fix or unset the variable it names");
      }
      if (token != null) {
        request.header("Authorization", token.header());
      }
    }
    HttpResponse<String> r;
    HttpClient.Builder client = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT);
    if (ssl != null) {
      client.sslContext(ssl).sslParameters(HttpTls.parameters(ssl));
    }
    try (HttpClient http = client.build()) {
      r = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    } catch (ConnectException | HttpConnectTimeoutException | UnresolvedAddressException e) {
      throw CliError.unreachable(
          "no site answers at " + admin + " (" + reason(e) + ")",
          "is the site running there (kagami run --config SITE.yaml)? Name its admin address (admin.listen in its YAML) with --admin HOST:PORT or KAGAMI_ADMIN; the default is "
              + AdminAddress.DEFAULT);
    } catch (HttpTimeoutException e) {
      throw changes
          ? CliError.failed(
              admin
                  + " did not answer "
                  + method
                  + " "
                  + path
                  + " within "
                  + timeout.toSeconds()
                  + " s; the request may still complete",
              "check the outcome with kagami status --admin " + admin)
          : CliError.unreachable(
              admin
                  + " accepted the connection but did not answer within "
                  + timeout.toSeconds()
                  + " s",
              "check that --admin names the site's admin port (admin.listen), and that the site is not overloaded");
    } catch (SSLException e) {
      throw tlsFailure(e);
    } catch (IOException e) {
      if (HttpTls.untrusted(e) != null || e.getCause() instanceof SSLException) {
        throw tlsFailure(e);
      }
      // An HTTP client reading something that is not HTTP: the NBD port's greeting, the WAN port's
      // TLS, an admin port that speaks HTTPS.
      throw CliError.unreachable(
          admin + " answers, but not as a Kagami admin port (it does not speak plain HTTP)",
          "point --admin at the site's admin.listen (default port 9480), not its NBD (10809) or WAN (7800) port; if that port speaks HTTPS (admin.tls), write --admin https://"
              + admin);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw CliError.failed("interrupted while waiting for " + admin, null);
    }
    return answer(method, path, r, token != null);
  }

  /** A TLS handshake that failed: the certificate the server presented, or why else. */
  private CliError tlsFailure(IOException e) {
    HttpTls.Untrusted u = HttpTls.untrusted(e);
    if (u != null) {
      return CliError.unreachable(
          "the admin server at "
              + shown()
              + " presented a certificate not signed by "
              + u.source()
              + ": "
              + (u.presented() == null ? "none" : HttpTls.describe(u.presented()))
              + "; nothing was sent",
          "is --admin the right site? Pass its own certificate (<dataDir>/tls/site.crt, or wan.certificate) or the CA that signed its admin.certificate with --admin-ca / KAGAMI_ADMIN_CA");
    }
    String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    boolean plain = reason.toLowerCase(java.util.Locale.ROOT).contains("unrecognized ssl message");
    return CliError.unreachable(
        plain
            ? admin + " answers, but not over TLS (it speaks plain HTTP, or is not an admin port)"
            : "TLS with the admin server at " + shown() + " failed: " + reason,
        plain
            ? "a site listening on loopback with admin.tls false speaks plain HTTP: write --admin http://"
                + admin
            : "check that --admin names the site's admin.listen and that it runs with admin.tls");
  }

  private JsonNode answer(String method, String path, HttpResponse<String> r, boolean sentToken) {
    int code = r.statusCode();
    JsonNode json = parse(r.body());
    String reason =
        json != null && json.hasNonNull("error")
            ? json.path("error").asText()
            : firstLine(r.body());
    if (code == 200) {
      if (json == null) {
        throw notKagami(code);
      }
      return json;
    }
    if (code == 401 || code == 403) {
      throw CliError.refused(
          admin + " refused the request (HTTP " + code + "): " + reason,
          sentToken
              ? "the token presented is not this site's: check KAGAMI_ADMIN_TOKEN / KAGAMI_ADMIN_TOKEN_FILE"
              : "no admin token found: run this as the user running the site, on its machine, or set KAGAMI_ADMIN_TOKEN_FILE to the site's admin.token");
    }
    if (json == null || !json.hasNonNull("error")) {
      // Kagami answers every error with {"error": ...}: anything else is another HTTP server.
      throw notKagami(code);
    }
    if (code >= 400 && code < 500) {
      throw CliError.refused(
          admin + " refused " + method + " " + path + ": " + reason,
          "nothing changed; resolve what the site names and run the command again");
    }
    throw CliError.failed(
        admin + " failed " + method + " " + path + " (HTTP " + code + "): " + reason,
        "see the site's log for details, and its state with kagami status --admin " + admin);
  }

  private CliError notKagami(int code) {
    return CliError.unreachable(
        admin + " answers HTTP " + code + ", but not as a Kagami admin port",
        "point --admin at the site's admin.listen (default port 9480)");
  }

  private static JsonNode parse(String body) {
    try {
      JsonNode n = Json.MAPPER.readTree(body);
      return n == null || n.isMissingNode() ? null : n;
    } catch (IOException e) {
      return null;
    }
  }

  private static String firstLine(String body) {
    String s = body == null ? "" : body.strip();
    int nl = s.indexOf('\n');
    s = nl < 0 ? s : s.substring(0, nl);
    return s.length() > 200 ? s.substring(0, 200) + "..." : s;
  }

  private static String reason(Exception e) {
    if (e instanceof HttpConnectTimeoutException) {
      return "no answer to the connection within " + CONNECT_TIMEOUT.toSeconds() + " s";
    }
    if (e instanceof UnresolvedAddressException
        || e.getCause() instanceof UnresolvedAddressException) {
      return "unknown host";
    }
    return "connection refused";
  }

  /** The wildcard address names no host to connect to: the site is on this machine then. */
  private static String connectHost(HostPort hp) {
    return switch (hp.host()) {
      case "0.0.0.0" -> "127.0.0.1";
      case "::" -> "::1";
      default -> hp.host();
    };
  }

  private static String connectable(HostPort hp) {
    return new HostPort(connectHost(hp), hp.port()).toString();
  }

  /**
   * True when {@code host} names this machine (loopback, the wildcard, or one of its interfaces'
   * addresses).
   */
  static boolean isThisMachine(String host) {
    try {
      InetAddress a = InetAddress.getByName(host);
      return a.isAnyLocalAddress()
          || a.isLoopbackAddress()
          || NetworkInterface.getByInetAddress(a) != null;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * True when something listens at {@code admin}: a site that may be busy or slow to answer counts
   * as running (its files must not be touched), so this asks only whether a connection is accepted.
   */
  static boolean listens(HostPort admin) {
    try (Socket s = new Socket()) {
      s.connect(
          new InetSocketAddress(connectHost(admin), admin.port()),
          (int) CONNECT_TIMEOUT.toMillis());
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
