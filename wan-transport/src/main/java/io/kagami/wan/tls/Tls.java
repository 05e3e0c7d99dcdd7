package io.kagami.wan.tls;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.Provider;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedTrustManager;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.jsse.provider.BouncyCastleJsseProvider;

/**
 * TLS for the WAN link: TLS 1.3 only, mutual authentication, Bouncy Castle's JSSE provider, and a
 * pinned peer: a site trusts exactly the certificate(s) it was paired with, nothing a CA signed.
 */
public final class Tls {
  private static final BouncyCastleProvider BC = new BouncyCastleProvider();
  private static final BouncyCastleJsseProvider BCJSSE = new BouncyCastleJsseProvider(BC);

  static {
    // BCJSSE looks up its SecureRandom and primitives by provider name.
    if (java.security.Security.getProvider(BC.getName()) == null) {
      java.security.Security.addProvider(BC);
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
          .protocols("TLSv1.3")
          .clientAuth(ClientAuth.REQUIRE)
          .trustManager(new PinnedTrustManager(trusted))
          .build();
    } catch (SSLException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot set up TLS for site " + own.siteId() + ": " + e.getMessage(), e);
    }
  }

  /** The primary's side: the server must present exactly {@code trusted}. */
  public static SslContext client(SiteCredentials own, X509Certificate trusted) {
    try {
      return SslContextBuilder.forClient()
          .keyManager(keyManagers(own))
          .sslProvider(SslProvider.JDK)
          .sslContextProvider(BCJSSE)
          .protocols("TLSv1.3")
          .trustManager(new PinnedTrustManager(List.of(trusted)))
          .endpointIdentificationAlgorithm(null)
          .build();
    } catch (SSLException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot set up TLS for site " + own.siteId() + ": " + e.getMessage(), e);
    }
  }

  private static KeyManagerFactory keyManagers(SiteCredentials own) throws GeneralSecurityException {
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

  /**
   * Trusts a peer only when its leaf certificate is byte-for-byte one of the paired ones, and it
   * is within its validity period. The refusal names the certificate it got.
   */
  static final class PinnedTrustManager extends X509ExtendedTrustManager {
    private final List<X509Certificate> pinned;

    PinnedTrustManager(List<X509Certificate> pinned) {
      this.pinned = List.copyOf(pinned);
    }

    private void check(X509Certificate[] chain) throws CertificateException {
      if (chain == null || chain.length == 0) {
        throw new CertificateException("peer presented no certificate");
      }
      X509Certificate leaf = chain[0];
      for (X509Certificate p : pinned) {
        if (p.equals(leaf)) {
          leaf.checkValidity();
          return;
        }
      }
      throw new CertificateException(
          "peer certificate CN=" + SiteCredentials.commonName(leaf) + " (SHA-256 " + SiteCredentials.fingerprint(leaf) + ") is not the paired site's certificate");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      check(chain);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
      check(chain);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
      check(chain);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return pinned.toArray(X509Certificate[]::new);
    }
  }
}
