package io.kagami.wan.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.clock.SystemTime;
import java.io.Writer;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Date;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SiteCredentialsTest {
  @TempDir Path dir;

  @Test
  void generatedOnFirstStartAndReloadedIdenticallyOnTheSecond() throws Exception {
    Instant now = Instant.parse("2025-03-01T00:00:00Z");
    Path tls = dir.resolve("data/tls");
    SiteCredentials first = SiteCredentials.loadOrCreate(tls, "tokyo", InstantSource.fixed(now));

    assertThat(tls.resolve("site.key")).exists();
    assertThat(tls.resolve("site.crt")).exists();
    assertThat(
            PosixFilePermissions.toString(Files.getPosixFilePermissions(tls.resolve("site.key"))))
        .as("key file mode")
        .isEqualTo("rw-------");
    assertThat(Files.readString(tls.resolve("site.key"))).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(first.siteId()).isEqualTo("tokyo");
    assertThat(first.certificateFile()).isEqualTo(tls.resolve("site.crt"));
    assertThat(first.certificate().getPublicKey()).isInstanceOf(ECPublicKey.class);
    assertThat(
            ((ECPublicKey) first.certificate().getPublicKey())
                .getParams()
                .getCurve()
                .getField()
                .getFieldSize())
        .as("P-256")
        .isEqualTo(256);
    first.certificate().verify(first.certificate().getPublicKey()); // self-signed
    assertThat(first.certificate().getNotAfter().toInstant())
        .isAfter(now.plus(Duration.ofDays(365 * 25)));
    assertThat(first.certificate().getNotBefore().toInstant()).isBefore(now);

    SiteCredentials second = SiteCredentials.loadOrCreate(tls, "tokyo");
    assertThat(second.certificate()).isEqualTo(first.certificate());
    assertThat(second.privateKey().getEncoded()).isEqualTo(first.privateKey().getEncoded());
  }

  @Test
  void refusesToReuseAnotherSitesIdentity() {
    SiteCredentials.loadOrCreate(dir, "tokyo");
    assertThatThrownBy(() -> SiteCredentials.loadOrCreate(dir, "osaka"))
        .hasMessageContaining("is for site \"tokyo\", not \"osaka\"");
  }

  @Test
  void aMissingHalfIsReportedNotRegenerated() throws Exception {
    SiteCredentials.loadOrCreate(dir, "tokyo");
    Files.delete(dir.resolve("site.crt"));
    assertThatThrownBy(() -> SiteCredentials.loadOrCreate(dir, "tokyo"))
        .hasMessageContaining("site.key but not")
        .hasMessageContaining("site.crt");
    assertThat(dir.resolve("site.crt")).doesNotExist();
  }

  @Test
  void loadsOperatorSuppliedPemsInTraditionalFormat() throws Exception {
    KeyPairGenerator g = KeyPairGenerator.getInstance("RSA", Tls.bcProvider());
    g.initialize(2048);
    KeyPair kp = g.generateKeyPair();
    X500Name name = new X500Name("CN=osaka,OU=ops");
    Instant now = SystemTime.WALL.instant();
    var holder =
        new JcaX509v3CertificateBuilder(
                name,
                BigInteger.TEN,
                Date.from(now.minusSeconds(60)),
                Date.from(now.plus(Duration.ofDays(30))),
                name,
                kp.getPublic())
            .build(
                new JcaContentSignerBuilder("SHA256withRSA")
                    .setProvider(Tls.bcProvider())
                    .build(kp.getPrivate()));
    Path key = dir.resolve("operator/osaka-key.pem");
    Path cert = dir.resolve("operator/osaka-cert.pem");
    Files.createDirectories(key.getParent());
    try (Writer w = Files.newBufferedWriter(key, StandardCharsets.US_ASCII);
        JcaPEMWriter pw = new JcaPEMWriter(w)) {
      pw.writeObject(
          kp); // "-----BEGIN RSA PRIVATE KEY-----", as openssl genrsa -traditional writes it
    }
    try (Writer w = Files.newBufferedWriter(cert, StandardCharsets.US_ASCII);
        JcaPEMWriter pw = new JcaPEMWriter(w)) {
      pw.writeObject(
          new JcaX509CertificateConverter().setProvider(Tls.bcProvider()).getCertificate(holder));
    }

    SiteCredentials c = SiteCredentials.load(key, cert);

    assertThat(Files.readString(key)).startsWith("-----BEGIN RSA PRIVATE KEY-----");
    assertThat(c.siteId()).isEqualTo("osaka");
    assertThat(c.certificateFile()).isEqualTo(cert);
    assertThat(c.privateKey().getEncoded()).isEqualTo(kp.getPrivate().getEncoded());
  }

  @Test
  void aKeyThatDoesNotBelongToTheCertificateIsRejected() {
    SiteCredentials.loadOrCreate(dir.resolve("a"), "tokyo");
    SiteCredentials.loadOrCreate(dir.resolve("b"), "tokyo");
    assertThatThrownBy(
            () -> SiteCredentials.load(dir.resolve("a/site.key"), dir.resolve("b/site.crt")))
        .hasMessage(
            "private key "
                + dir.resolve("a/site.key")
                + " does not belong to certificate "
                + dir.resolve("b/site.crt"));
  }

  @Test
  void aFileWithoutACertificateIsNamed() throws Exception {
    Path junk = dir.resolve("peer.crt");
    Files.writeString(junk, "not a certificate\n");
    assertThatThrownBy(() -> SiteCredentials.readCertificate(junk))
        .hasMessage("file " + junk + " holds no PEM certificate");
  }

  @Test
  void aSiteIdIsNeverParsedAsADistinguishedName() {
    SiteCredentials c = SiteCredentials.loadOrCreate(dir, "tokyo,O=Evil");
    assertThat(c.siteId()).isEqualTo("tokyo,O=Evil");
    assertThat(c.certificate().getSubjectX500Principal().getName())
        .isEqualTo("O=Kagami,CN=tokyo\\,O\\=Evil");
  }
}
