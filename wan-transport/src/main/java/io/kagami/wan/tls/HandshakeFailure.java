package io.kagami.wan.tls;

import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslClosedEngineException;
import java.net.SocketException;
import java.nio.channels.ClosedChannelException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import org.bouncycastle.tls.AlertDescription;
import org.bouncycastle.tls.TlsFatalAlert;
import org.bouncycastle.tls.TlsFatalAlertReceived;

/**
 * Why a WAN TLS handshake failed, told from the side it failed on: a standby accepting a connection
 * ({@link #accepted}) refuses what the client presented; a primary dialing its standby ({@link
 * #dialed}) is refused, or loses the connection. Classified by exception type (Bouncy Castle's
 * alert raised here versus alert received from the peer, the trust manager's own exceptions, the
 * PKIX validity checks), never by message text, so each reason gets one clear line:
 *
 * <ul>
 *   <li>{@link Kind#NO_CERTIFICATE}: the client presented none (a Kagami site always presents its
 *       {@code site.crt});
 *   <li>{@link Kind#UNKNOWN_CERTIFICATE}: a certificate that is not the paired one (another site,
 *       another CA, a new key);
 *   <li>{@link Kind#EXPIRED}, {@link Kind#NOT_YET_VALID}: the paired certificate, outside its
 *       validity (or this machine's clock is wrong);
 *   <li>{@link Kind#REJECTED_BY_PEER}: the other end refused this site's certificate;
 *   <li>{@link Kind#CLOSED}: the connection was closed or reset before the handshake completed (a
 *       port scanner, a load balancer's health check, a peer shutting down) — an expected network
 *       event, logged without a stack trace;
 *   <li>{@link Kind#NOT_TLS}: the first bytes were not a TLS record;
 *   <li>{@link Kind#OTHER}: anything else, with its innermost message.
 * </ul>
 *
 * <p>Immutable; thread-safe.
 */
public record HandshakeFailure(Kind kind, String text) {

  /** The reason, as a value operators can count and tests can compare. */
  public enum Kind {
    NO_CERTIFICATE,
    UNKNOWN_CERTIFICATE,
    EXPIRED,
    NOT_YET_VALID,
    REJECTED_BY_PEER,
    CLOSED,
    NOT_TLS,
    OTHER
  }

  /**
   * A failed handshake on a connection this site accepted (the standby's receiver); {@code remote}
   * is the client's address as logged.
   */
  public static HandshakeFailure accepted(Throwable cause, String remote) {
    return classify(cause, remote, true);
  }

  /**
   * A failed handshake on a connection this site dialed (the primary's shipper); {@code remote} is
   * the standby's address as logged.
   */
  public static HandshakeFailure dialed(Throwable cause, String remote) {
    return classify(cause, remote, false);
  }

  /** True for {@link Kind#CLOSED}: an expected network event, not a refusal. */
  public boolean closed() {
    return kind == Kind.CLOSED;
  }

  private static HandshakeFailure classify(Throwable cause, String remote, boolean accepted) {
    String client = accepted ? "the client" : "the standby";
    for (Throwable c = cause; c != null; c = c.getCause()) {
      if (c instanceof Tls.MissingCertificateException) {
        return new HandshakeFailure(
            Kind.NO_CERTIFICATE,
            client
                + " presented no certificate (a paired Kagami site always presents its site.crt)");
      }
      if (c instanceof Tls.UnpairedCertificateException u) {
        return new HandshakeFailure(Kind.UNKNOWN_CERTIFICATE, u.getMessage());
      }
      if (c instanceof CertificateExpiredException e) {
        return new HandshakeFailure(
            Kind.EXPIRED,
            client
                + "'s certificate is the paired one but has expired ("
                + message(e)
                + "): pair the sites again with new certificates");
      }
      if (c instanceof CertificateNotYetValidException e) {
        return new HandshakeFailure(
            Kind.NOT_YET_VALID,
            client
                + "'s certificate is the paired one but not valid yet ("
                + message(e)
                + "): check the clocks of both sites");
      }
      if (c instanceof CertPathValidatorException v) {
        if (v.getReason() == CertPathValidatorException.BasicReason.EXPIRED) {
          return new HandshakeFailure(
              Kind.EXPIRED,
              client
                  + "'s certificate is the paired one but has expired ("
                  + message(v)
                  + "): pair the sites again with new certificates");
        }
        if (v.getReason() == CertPathValidatorException.BasicReason.NOT_YET_VALID) {
          return new HandshakeFailure(
              Kind.NOT_YET_VALID,
              client
                  + "'s certificate is the paired one but not valid yet ("
                  + message(v)
                  + "): check the clocks of both sites");
        }
      }
      if (c instanceof NotSslRecordException) {
        return new HandshakeFailure(
            Kind.NOT_TLS,
            "the peer does not speak TLS (its first bytes are not a TLS record): not a Kagami site");
      }
    }
    // No certificate reason of this site's own: an alert, or the connection ending.
    for (Throwable c = cause; c != null; c = c.getCause()) {
      if (c instanceof TlsFatalAlertReceived r) {
        short alert = r.getAlertDescription();
        if (isCertificateAlert(alert)) {
          return new HandshakeFailure(
              Kind.REJECTED_BY_PEER,
              (accepted ? "the client" : "the standby")
                  + " rejected this site's certificate (TLS alert "
                  + AlertDescription.getText(alert)
                  + "): is it paired with this site's site.crt?");
        }
        if (alert == AlertDescription.close_notify || alert == AlertDescription.user_canceled) {
          return closedBy(remote);
        }
      }
      if (c instanceof TlsFatalAlert a
          && !(c instanceof TlsFatalAlertReceived)
          && accepted
          && a.getAlertDescription() == AlertDescription.certificate_required) {
        return new HandshakeFailure(
            Kind.NO_CERTIFICATE,
            "the client presented no certificate (a paired Kagami site always presents its site.crt)");
      }
      if (c instanceof ClosedChannelException
          || c instanceof SslClosedEngineException
          || c instanceof SocketException) {
        return closedBy(remote);
      }
    }
    return new HandshakeFailure(Kind.OTHER, Tls.explain(cause));
  }

  private static HandshakeFailure closedBy(String remote) {
    return new HandshakeFailure(
        Kind.CLOSED, "connection closed by " + remote + " before the TLS handshake completed");
  }

  private static boolean isCertificateAlert(short alert) {
    return alert == AlertDescription.bad_certificate
        || alert == AlertDescription.certificate_unknown
        || alert == AlertDescription.certificate_required
        || alert == AlertDescription.certificate_expired
        || alert == AlertDescription.certificate_revoked
        || alert == AlertDescription.unsupported_certificate
        || alert == AlertDescription.unknown_ca
        || alert == AlertDescription.access_denied;
  }

  private static String message(Throwable t) {
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }
}
