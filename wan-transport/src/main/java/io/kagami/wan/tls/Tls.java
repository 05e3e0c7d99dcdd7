package io.kagami.wan.tls;

import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.Provider;
import java.security.Security;
import java.security.cert.CertificateException;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import javax.net.ssl.CertPathTrustManagerParameters;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.jsse.provider.BouncyCastleJsseProvider;
import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.TlsFatalAlertReceived;
import org.bouncycastle.tls.crypto.impl.jcajce.JcaTlsCryptoProvider;

/**
 * TLS for the WAN link: TLS 1.3 only, mutual authentication required, Bouncy Castle's JSSE
 * provider, and a pinned peer. A site trusts exactly the certificate(s) it was paired with — not
 * whatever a CA signed, and without any host name check: the peer's leaf certificate must equal a
 * pinned one byte for byte, and then also pass BCJSSE's own PKIX validation with the pinned
 * certificates as the only trust anchors (signature, key usage), and be within its validity period
 * (checked here: PKIX does not check a trust anchor's).
 *
 * <p>A refusal names the certificate presented ("peer certificate CN=x (SHA-256 …) is not the
 * paired site's certificate"); {@link #explain} digs that reason out of the exception Netty reports
 * for a failed handshake.
 */
public final class Tls {
  private static final BouncyCastleProvider BC = new BouncyCastleProvider();
  // TLS protocol from BCJSSE, cryptographic primitives from the JDK's providers (default JCA
  // lookup): the JDK's AES-GCM uses the CPU's AES instructions; Bouncy Castle's own is pure Java
  // and several times slower, which would make TLS the bottleneck of replication.
  private static final BouncyCastleJsseProvider BCJSSE =
      new BouncyCastleJsseProvider(false, new JcaTlsCryptoProvider());
  private static final String[] PROTOCOLS = {"TLSv1.3"};
  private static final int MAX_REASON = 200;

  static {
    // BCJSSE looks some primitives up by provider name ("DEFAULT SecureRandom not available" else).
    if (Security.getProvider(BC.getName()) == null) {
      Security.addProvider(BC);
    }
  }

  private Tls() {}

  static Provider bcProvider() {
    return BC;
  }

  /** The standby's side: requires a client certificate equal to one of {@code trusted}. */
  public static SslContext server(SiteCredentials own, List<X509Certificate> trusted) {
    try {
      return SslContextBuilder.forServer(keyManagers(own))
          .sslProvider(SslProvider.JDK)
          .sslContextProvider(BCJSSE)
          .protocols(PROTOCOLS)
          .clientAuth(ClientAuth.REQUIRE)
          .trustManager(pinnedTrustManager(trusted))
          .build();
    } catch (SSLException | GeneralSecurityException e) {
      throw new IllegalStateException(
          "cannot set up TLS for site " + own.siteId() + ": " + e.getMessage(), e);
    }
  }

  /** The primary's side: the server must present exactly {@code trusted}; no host name check. */
  public static SslContext client(SiteCredentials own, X509Certificate trusted) {
    try {
      return SslContextBuilder.forClient()
          .keyManager(keyManagers(own))
          .sslProvider(SslProvider.JDK)
          .sslContextProvider(BCJSSE)
          .protocols(PROTOCOLS)
          .trustManager(pinnedTrustManager(List.of(trusted)))
          .endpointIdentificationAlgorithm(null)
          .build();
    } catch (SSLException | GeneralSecurityException e) {
      throw new IllegalStateException(
          "cannot set up TLS for site " + own.siteId() + ": " + e.getMessage(), e);
    }
  }

  private static KeyManagerFactory keyManagers(SiteCredentials own)
      throws GeneralSecurityException {
    char[] pass = new char[0];
    KeyStore ks = KeyStore.getInstance("PKCS12", BC);
    try {
      ks.load(null, pass);
    } catch (java.io.IOException e) {
      throw new GeneralSecurityException(e);
    }
    ks.setKeyEntry("site", own.privateKey(), pass, new X509Certificate[] {own.certificate()});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance("PKIX", BCJSSE);
    kmf.init(ks, pass);
    return kmf;
  }

  static X509ExtendedTrustManager pinnedTrustManager(List<X509Certificate> pinned)
      throws GeneralSecurityException {
    if (pinned.isEmpty()) {
      throw new GeneralSecurityException("no peer certificate is pinned");
    }
    Set<TrustAnchor> anchors = new HashSet<>();
    for (X509Certificate c : pinned) {
      anchors.add(new TrustAnchor(c, null));
    }
    PKIXBuilderParameters params = new PKIXBuilderParameters(anchors, new X509CertSelector());
    params.setRevocationEnabled(false); // a pinned self-signed certificate has no CRL or OCSP
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX", BCJSSE);
    tmf.init(new CertPathTrustManagerParameters(params));
    for (TrustManager tm : tmf.getTrustManagers()) {
      if (tm instanceof X509ExtendedTrustManager x) {
        return new PinnedTrustManager(pinned, x);
      }
    }
    throw new GeneralSecurityException("BCJSSE offers no X509ExtendedTrustManager");
  }

  /**
   * The operator-readable reason behind a failed connection or handshake: a certificate refusal
   * when there is one anywhere in the cause chain, otherwise the innermost message.
   */
  public static String explain(Throwable t) {
    String innermost = null;
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof TlsFatalAlertReceived r) {
        // Received from the peer: the peer refused, for the reason its alert names.
        return "the peer ended the TLS handshake with alert "
            + AlertDescription.getText(r.getAlertDescription())
            + (r.getAlertDescription() == AlertDescription.certificate_unknown
                    || r.getAlertDescription() == AlertDescription.bad_certificate
                ? ": it rejected this site's certificate (is it paired with this site's site.crt?)"
                : "");
      }
      if (c instanceof TlsFatalAlert a
          && a.getAlertDescription() == AlertDescription.certificate_required) {
        // Raised here: the peer sent no certificate.
        return "the peer presented no certificate";
      }
      if (c instanceof CertificateException && c.getMessage() != null) {
        return c.getMessage();
      }
      if (c instanceof NotSslRecordException) {
        return "the peer does not speak TLS (its first bytes are not a TLS record): not a Kagami site";
      }
      if (c.getMessage() != null && !(c instanceof DecoderException && c.getCause() != null)) {
        innermost = c.getMessage();
      }
    }
    if (innermost == null) {
      for (Throwable c = t; c != null; c = c.getCause()) {
        if (c instanceof java.nio.channels.ClosedChannelException) {
          // Netty's StacklessClosedChannelException: no message, and its name means nothing to an
          // operator.
          return "the connection was closed";
        }
      }
      return t.getClass().getSimpleName();
    }
    if (innermost.length() > MAX_REASON) {
      innermost = innermost.substring(0, MAX_REASON) + "…";
    }
    return innermost;
  }

  /** The peer presented no certificate at all. */
  static final class MissingCertificateException extends CertificateException {
    private static final long serialVersionUID = 1L;

    MissingCertificateException() {
      super("peer presented no certificate");
    }
  }

  /** The peer presented a certificate that is not a pinned one; the message names it. */
  static final class UnpairedCertificateException extends CertificateException {
    private static final long serialVersionUID = 1L;

    UnpairedCertificateException(String message) {
      super(message);
    }
  }

  /**
   * Trusts a peer only when its leaf certificate is byte for byte one of the pinned ones and then
   * passes PKIX validation against the pinned certificates alone. Any other certificates the peer
   * sends along are ignored.
   */
  static final class PinnedTrustManager extends X509ExtendedTrustManager {
    private final List<X509Certificate> pinned;
    private final X509ExtendedTrustManager pkix;

    PinnedTrustManager(List<X509Certificate> pinned, X509ExtendedTrustManager pkix) {
      this.pinned = List.copyOf(pinned);
      this.pkix = pkix;
    }

    private X509Certificate[] pinnedLeaf(X509Certificate[] chain) throws CertificateException {
      if (chain == null || chain.length == 0) {
        throw new MissingCertificateException();
      }
      X509Certificate leaf = chain[0];
      for (X509Certificate p : pinned) {
        if (p.equals(leaf)) {
          // PKIX does not check a trust anchor's validity, and the pinned leaf is its own anchor:
          // check it here, so an expired (or not yet valid) pairing is refused, and named so.
          leaf.checkValidity();
          return new X509Certificate[] {leaf};
        }
      }
      throw new UnpairedCertificateException(
          "peer certificate CN="
              + SiteCredentials.commonName(leaf)
              + " (SHA-256 "
              + SiteCredentials.fingerprint(leaf)
              + ") is not the paired site's certificate");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      pkix.checkClientTrusted(pinnedLeaf(chain), authType);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      pkix.checkServerTrusted(pinnedLeaf(chain), authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      pkix.checkClientTrusted(pinnedLeaf(chain), authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      pkix.checkServerTrusted(pinnedLeaf(chain), authType, socket);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      pkix.checkClientTrusted(pinnedLeaf(chain), authType, engine);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      pkix.checkServerTrusted(pinnedLeaf(chain), authType, engine);
    }

    /**
     * None named: a peer then always presents its certificate, even one issued to another name, and
     * its refusal names what it presented instead of "no certificate".
     */
    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }
}
