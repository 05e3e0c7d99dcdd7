package io.kagami.wan.tls;

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
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.HexFormat;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * A site's TLS identity: its private key and certificate (subject {@code CN=<siteId>}). Generated
 * with Bouncy Castle (EC P-256, self-signed) on first start when the files are absent, or loaded
 * from operator-supplied PEM files.
 */
public record SiteCredentials(String siteId, PrivateKey privateKey, X509Certificate certificate, Path certificateFile) {
  public static final String KEY_FILE = "site.key";
  public static final String CERT_FILE = "site.crt";
  private static final Duration VALIDITY = Duration.ofDays(3650 * 3);

  /** Loads {@code dir/site.key} and {@code dir/site.crt}, generating them first if absent. */
  public static SiteCredentials loadOrCreate(Path dir, String siteId) {
    Path key = dir.resolve(KEY_FILE);
    Path cert = dir.resolve(CERT_FILE);
    if (!Files.exists(key) && !Files.exists(cert)) {
      generate(dir, siteId);
    }
    SiteCredentials c = load(key, cert);
    if (!siteId.equals(c.commonName())) {
      throw new IllegalStateException("certificate " + cert + " is for site \"" + c.commonName() + "\", not \"" + siteId + "\"");
    }
    return c;
  }

  /** Loads operator-supplied PEM files. */
  public static SiteCredentials load(Path keyFile, Path certFile) {
    X509Certificate cert = readCertificate(certFile);
    PrivateKey key;
    try (Reader r = Files.newBufferedReader(keyFile, StandardCharsets.US_ASCII);
        PEMParser p = new PEMParser(r)) {
      Object o = p.readObject();
      JcaPEMKeyConverter conv = new JcaPEMKeyConverter().setProvider(Tls.bcProvider());
      if (o instanceof PEMKeyPair kp) {
        key = conv.getKeyPair(kp).getPrivate();
      } else if (o instanceof PrivateKeyInfo pki) {
        key = conv.getPrivateKey(pki);
      } else {
        throw new IllegalArgumentException("private key file " + keyFile + " holds no unencrypted PEM private key");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read private key " + keyFile + ": " + e.getMessage(), e);
    }
    String cn = commonName(cert);
    return new SiteCredentials(cn, key, cert, certFile);
  }

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
      throw new IllegalArgumentException("certificate " + file + " is not valid: " + e.getMessage(), e);
    }
  }

  private static void generate(Path dir, String siteId) {
    try {
      Files.createDirectories(dir);
      KeyPairGenerator g = KeyPairGenerator.getInstance("EC", Tls.bcProvider());
      g.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
      KeyPair kp = g.generateKeyPair();
      X500Name name = new X500Name("CN=" + siteId + ",O=Kagami");
      Instant now = Instant.now();
      JcaX509v3CertificateBuilder b =
          new JcaX509v3CertificateBuilder(name, new BigInteger(64, new SecureRandom()).abs().add(BigInteger.ONE), Date.from(now.minus(Duration.ofDays(1))), Date.from(now.plus(VALIDITY)), name, kp.getPublic());
      b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
      b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
      b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
      X509CertificateHolder holder = b.build(new JcaContentSignerBuilder("SHA256withECDSA").setProvider(Tls.bcProvider()).build(kp.getPrivate()));
      writePem(dir.resolve(KEY_FILE), kp.getPrivate(), true);
      writePem(dir.resolve(CERT_FILE), new JcaX509CertificateConverter().setProvider(Tls.bcProvider()).getCertificate(holder), false);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the site key pair into " + dir + ": " + e.getMessage(), e);
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException("cannot generate the site key pair: " + e.getMessage(), e);
    }
  }

  private static void writePem(Path file, Object o, boolean secret) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.deleteIfExists(tmp);
    if (secret) {
      Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
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

  public static String commonName(X509Certificate cert) {
    try {
      for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName()).getRdns()) {
        if (rdn.getType().equalsIgnoreCase("CN")) {
          return rdn.getValue().toString();
        }
      }
    } catch (javax.naming.InvalidNameException e) {
      // fall through
    }
    return "";
  }

  /** SHA-256 fingerprint, as operators compare certificates. */
  public static String fingerprint(X509Certificate cert) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
      return HexFormat.ofDelimiter(":").withUpperCase().formatHex(d);
    } catch (GeneralSecurityException e) {
      return "?";
    }
  }
}
