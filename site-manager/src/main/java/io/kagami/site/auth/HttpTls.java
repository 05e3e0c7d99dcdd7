package io.kagami.site.auth;

import io.kagami.wan.tls.SiteCredentials;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * TLS for the site's HTTP ports (admin, witness) and for the clients that call them (the CLI,
 * heartbeats to the peer's admin port, lease requests to the witness): TLS 1.3 only, the JDK's own
 * provider.
 *
 * <p>The rule every one of them follows, so that a bearer token never travels in clear: plain HTTP
 * only on a loopback address; anything else speaks TLS. A client verifies the server against the
 * certificates it was given (a site's self-signed {@code site.crt} itself, or the CA that signed an
 * operator's certificate), with PKIX but <em>without</em> a host name check: a site's certificate
 * names the site (CN = site id), not a host. Trust is therefore exactly the anchors given; give a
 * client only the certificates that may answer on that port.
 */
public final class HttpTls {
  /** The only protocol offered or accepted. */
  public static final String PROTOCOL = "TLSv1.3";

  private static final char[] STORE_PASSWORD = "kagami".toCharArray();

  private HttpTls() {}

  /** True when {@code host} is a loopback address or a name that resolves to one. */
  public static boolean isLoopback(String host) {
    try {
      return InetAddress.getByName(host).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /** A server context presenting {@code own}'s certificate. */
  public static SSLContext server(SiteCredentials own) {
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, STORE_PASSWORD);
      ks.setKeyEntry(
          "site", own.privateKey(), STORE_PASSWORD, new X509Certificate[] {own.certificate()});
      KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX");
      kmf.init(ks, STORE_PASSWORD);
      SSLContext ctx = SSLContext.getInstance(PROTOCOL);
      ctx.init(kmf.getKeyManagers(), null, null);
      return ctx;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException(
          "cannot set up TLS with certificate " + own.certificateFile() + ": " + e.getMessage(), e);
    }
  }

  /** The parameters a server or client context is used with: TLS 1.3 only. */
  public static SSLParameters parameters(SSLContext ctx) {
    SSLParameters p = ctx.getDefaultSSLParameters();
    p.setProtocols(new String[] {PROTOCOL});
    return p;
  }

  /**
   * A client context that trusts a server whose certificate is one of {@code anchors} or is signed
   * by one of them; {@code source} names where they came from in a refusal ({@link Untrusted}).
   */
  public static SSLContext client(List<X509Certificate> anchors, String source) {
    try {
      KeyStore ks = KeyStore.getInstance("PKCS12");
      ks.load(null, STORE_PASSWORD);
      int i = 0;
      for (X509Certificate c : anchors) {
        ks.setCertificateEntry("anchor-" + i++, c);
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(ks);
      X509TrustManager pkix = null;
      for (TrustManager tm : tmf.getTrustManagers()) {
        if (tm instanceof X509TrustManager x) {
          pkix = x;
        }
      }
      if (pkix == null) {
        throw new GeneralSecurityException("the JDK offers no X509TrustManager");
      }
      SSLContext ctx = SSLContext.getInstance(PROTOCOL);
      ctx.init(null, new TrustManager[] {new AnchoredTrustManager(pkix, source)}, null);
      return ctx;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException(
          "cannot set up TLS trusting " + source + ": " + e.getMessage(), e);
    }
  }

  /** A client context trusting the certificates in the PEM file {@code file}. */
  public static SSLContext client(Path file) {
    return client(readCertificates(file), file.toString());
  }

  /**
   * Every certificate in the PEM file {@code file} (one or several, e.g. a site's {@code site.crt}
   * or a CA bundle).
   *
   * @throws IllegalArgumentException naming the file when it cannot be read or holds none
   */
  public static List<X509Certificate> readCertificates(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      List<X509Certificate> out = new ArrayList<>();
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        out.add((X509Certificate) c);
      }
      if (out.isEmpty()) {
        throw new IllegalArgumentException(file + " holds no PEM certificate");
      }
      return out;
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
    } catch (CertificateException e) {
      throw new IllegalArgumentException(
          file + " holds no readable PEM certificate: " + e.getMessage(), e);
    }
  }

  /** {@code CN=tokyo (SHA-256 AB:CD:…)}: a certificate as an operator compares it. */
  public static String describe(X509Certificate c) {
    return "CN="
        + SiteCredentials.commonName(c)
        + " (SHA-256 "
        + SiteCredentials.fingerprint(c)
        + ")";
  }

  /** The {@link Untrusted} refusal in {@code t}'s cause chain, or null when there is none. */
  public static Untrusted untrusted(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof Untrusted u) {
        return u;
      }
    }
    return null;
  }

  /** The server presented a certificate that none of the client's anchors vouches for. */
  public static final class Untrusted extends CertificateException {
    private static final long serialVersionUID = 1L;

    private final transient X509Certificate presented;
    private final String source;

    Untrusted(X509Certificate presented, String source, Throwable cause) {
      super(
          (presented == null ? "no certificate" : describe(presented))
              + " is not signed by "
              + source,
          cause);
      this.presented = presented;
      this.source = source;
    }

    /** What the server presented, or null when it presented nothing. */
    public X509Certificate presented() {
      return presented;
    }

    /** Where the trusted certificates came from (a file name). */
    public String source() {
      return source;
    }
  }

  /**
   * PKIX against the given anchors through the JDK's trust manager, always by its two-argument
   * form, which does no host name check (the socket and engine forms would, since the HTTP client
   * asks for one). Only server certificates are checked: these ports do not ask for a client's.
   */
  private static final class AnchoredTrustManager extends X509ExtendedTrustManager {
    private final X509TrustManager pkix;
    private final String source;

    AnchoredTrustManager(X509TrustManager pkix, String source) {
      this.pkix = pkix;
      this.source = source;
    }

    private void check(X509Certificate[] chain, String authType) throws CertificateException {
      try {
        pkix.checkServerTrusted(chain, authType);
      } catch (CertificateException | IllegalArgumentException e) {
        throw new Untrusted(chain == null || chain.length == 0 ? null : chain[0], source, e);
      }
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      check(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      check(chain, authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      check(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      throw new CertificateException("this client accepts no connections");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      checkClientTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return pkix.getAcceptedIssuers();
    }
  }
}
