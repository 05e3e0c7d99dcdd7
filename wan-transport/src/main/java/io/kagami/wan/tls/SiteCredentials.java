package io.kagami.wan.tls;

import io.kagami.clock.SystemTime;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Date;
import java.util.HexFormat;
import java.util.Objects;
import javax.naming.InvalidNameException;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A site's TLS identity: its private key and certificate, whose subject CN is the site id.
 *
 * <p>{@link #loadOrCreate} generates one with Bouncy Castle on first start (EC P-256, self-signed,
 * valid for 30 years) as {@code site.key} (PKCS#8 PEM, mode 0600) and {@code site.crt} (PEM) in a
 * directory, and loads the same files on every later start. {@link #load} takes operator-supplied
 * PEM files instead (PKCS#8 or traditional OpenSSL keys, unencrypted). Either way the key must
 * belong to the certificate, or loading fails with a message naming both files.
 *
 * @param siteId the certificate's CN
 * @param certificateFile where the certificate was loaded from: the file to give the paired site
 */
public record SiteCredentials(
    String siteId, PrivateKey privateKey, X509Certificate certificate, Path certificateFile) {
  public static final String KEY_FILE = "site.key";
  public static final String CERT_FILE = "site.crt";
  public static final Duration VALIDITY = Duration.ofDays(30 * 365 + 7);
  private static final int MAX_SITE_ID = 64;

  public SiteCredentials {
    Objects.requireNonNull(privateKey, "privateKey");
    Objects.requireNonNull(certificate, "certificate");
    if (!commonName(certificate).equals(siteId)) {
      throw new IllegalArgumentException(
          "certificate is for site \"" + commonName(certificate) + "\", not \"" + siteId + "\"");
    }
  }

  /**
   * Loads {@code dir/site.key} and {@code dir/site.crt}, generating both first when neither exists.
   */
  public static SiteCredentials loadOrCreate(Path dir, String siteId) {
    return loadOrCreate(dir, siteId, SystemTime.WALL);
  }

  /**
   * As {@link #loadOrCreate(Path, String)}; a generated certificate is valid from {@code clock}'s
   * now.
   */
  public static SiteCredentials loadOrCreate(Path dir, String siteId, InstantSource clock) {
    checkSiteId(siteId);
    Path key = dir.resolve(KEY_FILE);
    Path cert = dir.resolve(CERT_FILE);
    boolean haveKey = Files.exists(key);
    boolean haveCert = Files.exists(cert);
    if (!haveKey && !haveCert) {
      generate(dir, siteId, clock.instant());
    } else if (haveKey != haveCert) {
      throw new IllegalStateException(
          "found "
              + (haveKey ? key : cert)
              + " but not "
              + (haveKey ? cert : key)
              + ": restore the missing file, or remove both to generate a new identity (the paired site must then be given the new "
              + CERT_FILE
              + ")");
    }
    SiteCredentials c = load(key, cert);
    if (!siteId.equals(c.siteId())) {
      throw new IllegalStateException(
          "certificate " + cert + " is for site \"" + c.siteId() + "\", not \"" + siteId + "\"");
    }
    return c;
  }

  /** Loads operator-supplied PEM files; the site id is the certificate's CN. */
  public static SiteCredentials load(Path keyFile, Path certFile) {
    X509Certificate cert = readCertificate(certFile);
    PrivateKey key = readPrivateKey(keyFile);
    checkPair(key, keyFile, cert, certFile);
    String cn = commonName(cert);
    if (cn.isEmpty()) {
      throw new IllegalArgumentException(
          "certificate " + certFile + " has no CN: its subject must be CN=<site id>");
    }
    return new SiteCredentials(cn, key, cert, certFile);
  }

  /** Reads one PEM certificate, such as the paired site's {@code site.crt}. */
  public static X509Certificate readCertificate(Path file) {
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
        PEMParser p = new PEMParser(r)) {
      Object o = p.readObject();
      if (!(o instanceof X509CertificateHolder h)) {
        throw new IllegalArgumentException("file " + file + " holds no PEM certificate");
      }
      return new JcaX509CertificateConverter().setProvider(Tls.bcProvider()).getCertificate(h);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read certificate " + file + ": " + e.getMessage(), e);
    } catch (GeneralSecurityException e) {
      throw new IllegalArgumentException(
          "certificate " + file + " is not valid: " + e.getMessage(), e);
    }
  }

  private static PrivateKey readPrivateKey(Path file) {
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
        PEMParser p = new PEMParser(r)) {
      Object o = p.readObject();
      JcaPEMKeyConverter conv = new JcaPEMKeyConverter().setProvider(Tls.bcProvider());
      if (o instanceof PEMKeyPair kp) {
        return conv.getKeyPair(kp).getPrivate();
      }
      if (o instanceof PrivateKeyInfo pki) {
        return conv.getPrivateKey(pki);
      }
      throw new IllegalArgumentException("file " + file + " holds no unencrypted PEM private key");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read private key " + file + ": " + e.getMessage(), e);
    }
  }

  /** Signs a probe with the key and verifies it with the certificate. */
  private static void checkPair(PrivateKey key, Path keyFile, X509Certificate cert, Path certFile) {
    String algorithm =
        switch (key.getAlgorithm()) {
          case "EC", "ECDSA" -> "SHA256withECDSA";
          case "RSA" -> "SHA256withRSA";
          case "Ed25519", "EdDSA" -> "Ed25519";
          case "Ed448" -> "Ed448";
          default ->
              throw new IllegalArgumentException(
                  "private key "
                      + keyFile
                      + " is of type "
                      + key.getAlgorithm()
                      + "; use EC, RSA or EdDSA");
        };
    byte[] probe = "kagami site key check".getBytes(StandardCharsets.US_ASCII);
    boolean matches;
    try {
      Signature s = Signature.getInstance(algorithm, Tls.bcProvider());
      s.initSign(key);
      s.update(probe);
      byte[] sig = s.sign();
      s.initVerify(cert.getPublicKey());
      s.update(probe);
      matches = s.verify(sig);
    } catch (GeneralSecurityException e) {
      matches = false;
    }
    if (!matches) {
      throw new IllegalArgumentException(
          "private key " + keyFile + " does not belong to certificate " + certFile);
    }
  }

  private static void checkSiteId(String siteId) {
    Objects.requireNonNull(siteId, "siteId");
    if (siteId.isBlank()
        || siteId.length() > MAX_SITE_ID
        || siteId.chars().anyMatch(Character::isISOControl)) {
      throw new IllegalArgumentException(
          "site id \""
              + siteId
              + "\" cannot name a certificate: it must be 1.."
              + MAX_SITE_ID
              + " printable characters");
    }
  }

  private static void generate(Path dir, String siteId, Instant now) {
    try {
      Files.createDirectories(dir);
      SecureRandom random = new SecureRandom();
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC", Tls.bcProvider());
      g.initialize(new ECGenParameterSpec("secp256r1"), random);
      KeyPair kp = g.generateKeyPair();
      // Built field by field, so a site id is never parsed as (or injected into) a DN string.
      X500Name name =
          new X500NameBuilder(BCStyle.INSTANCE)
              .addRDN(BCStyle.CN, siteId)
              .addRDN(BCStyle.O, "Kagami")
              .build();
      BigInteger serial = new BigInteger(63, random).add(BigInteger.ONE);
      JcaX509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(
              name,
              serial,
              Date.from(now.minus(Duration.ofDays(1))),
              Date.from(now.plus(VALIDITY)),
              name,
              kp.getPublic());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      // The site id as a DNS name too: clients that check names only in SANs (Go's, so
      // Prometheus scraping the admin port over HTTPS) verify it with server_name: <site id>.
      if (siteId.matches("[A-Za-z0-9.-]+")) {
        b.addExtension(
            Extension.subjectAlternativeName,
            false,
            new org.bouncycastle.asn1.x509.GeneralNames(
                new org.bouncycastle.asn1.x509.GeneralName(
                    org.bouncycastle.asn1.x509.GeneralName.dNSName, siteId)));
      }
      b.addExtension(
          Extension.extendedKeyUsage,
          false,
          new ExtendedKeyUsage(
              new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
      X509CertificateHolder holder =
          b.build(
              new JcaContentSignerBuilder("SHA256withECDSA")
                  .setProvider(Tls.bcProvider())
                  .build(kp.getPrivate()));
      // Key first: a crash in between leaves a key without a certificate, which loadOrCreate
      // reports.
      writePem(dir.resolve(KEY_FILE), new JcaPKCS8Generator(kp.getPrivate(), null), true);
      writePem(dir.resolve(CERT_FILE), holder, false);
    } catch (IOException e) {
      throw new UncheckedIOException(
          "cannot write the site key pair into " + dir + ": " + e.getMessage(), e);
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException("cannot generate the site key pair: " + e.getMessage(), e);
    }
  }

  private static void writePem(Path file, Object o, boolean secret) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    if (secret) {
      Files.createFile(
          tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    }
    try (Writer w = Files.newBufferedWriter(tmp, StandardCharsets.US_ASCII);
        JcaPEMWriter pw = new JcaPEMWriter(w)) {
      pw.writeObject(o);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
  }

  /** The certificate's CN: the site id it speaks for. */
  public String commonName() {
    return commonName(certificate);
  }

  /** The CN of {@code cert}'s subject, or "" when it has none. */
  public static String commonName(X509Certificate cert) {
    try {
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          return rdn.getValue().toString();
        }
      }
    } catch (InvalidNameException e) {
      return "";
    }
    return "";
  }

  /** SHA-256 fingerprint of the encoded certificate, as operators compare certificates. */
  public static String fingerprint(X509Certificate cert) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
      return HexFormat.ofDelimiter(":").withUpperCase().formatHex(d);
    } catch (GeneralSecurityException e) {
      return "?";
    }
  }
}
