package io.kagami.site.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The rule that keeps bearer tokens off the network in clear: the admin port, the peer's admin port
 * and the witness speak plain HTTP only on a loopback address, and TLS everywhere else.
 */
class AdminTlsConfigTest {
  private static final String PRIMARY =
      "site: {id: tokyo, role: primary}\ndataDir: d\nvolumes: [{name: v, size: 1MiB}]\nwan:\n  peer: \"192.0.2.1:7800\"\n  peerSiteId: hiroshima\n  peerCertificate: peer.crt\n";

  @TempDir Path dir;

  @BeforeEach
  void files() throws Exception {
    for (String f : new String[] {"peer.crt", "admin.crt", "admin.key", "witness.crt", "w.token"}) {
      Files.writeString(dir.resolve(f), "x\n");
    }
  }

  private SiteConfig parse(String yaml) {
    return ConfigLoader.parse(yaml, "site.yaml", dir);
  }

  @Test
  void plainHttpOnLoopbackByDefaultAndHttpsEverywhereElse() {
    assertThat(parse(PRIMARY).adminTls()).as("default 127.0.0.1:9480").isFalse();
    assertThat(parse(PRIMARY + "admin: {listen: \"[::1]:9480\"}\n").adminTls()).isFalse();
    assertThat(parse(PRIMARY + "admin: {listen: \"0.0.0.0:9480\"}\n").adminTls())
        .as("the wildcard reaches the network")
        .isTrue();
    assertThat(parse(PRIMARY + "admin: {listen: \"192.0.2.9:9480\"}\n").adminTls()).isTrue();
    assertThat(parse(PRIMARY + "admin: {listen: \"127.0.0.1:9480\", tls: on}\n").adminTls())
        .as("TLS may be asked for on loopback too")
        .isTrue();
    SiteConfig own =
        parse(
            PRIMARY
                + "admin: {listen: \"0.0.0.0:9480\", certificate: admin.crt, privateKey: admin.key}\n");
    assertThat(own.adminCertificate()).isEqualTo(dir.resolve("admin.crt"));
    assertThat(own.adminPrivateKey()).isEqualTo(dir.resolve("admin.key"));
  }

  @Test
  void plainHttpOffLoopbackIsRefusedSayingWhy() {
    assertThatThrownBy(() -> parse(PRIMARY + "admin: {listen: \"0.0.0.0:9480\", tls: off}\n"))
        .hasMessageContaining(
            "admin.tls: false is allowed only when admin.listen is a loopback address")
        .hasMessageContaining("0.0.0.0:9480")
        .hasMessageContaining("in clear");
    assertThatThrownBy(() -> parse(PRIMARY + "admin: {tls: maybe}\n"))
        .hasMessageContaining("admin.tls must be true or false");
    assertThatThrownBy(
            () -> parse(PRIMARY + "admin: {listen: \"0.0.0.0:1\", certificate: admin.crt}\n"))
        .hasMessageContaining("admin.certificate and admin.privateKey go together");
    assertThatThrownBy(
            () ->
                parse(
                    PRIMARY
                        + "admin: {tls: false, certificate: admin.crt, privateKey: admin.key}\n"))
        .hasMessageContaining("admin.tls is false");
  }

  @Test
  void thePeersAdminPortAndTheWitnessFollowTheSameRule() {
    FailoverSettings local =
        parse(PRIMARY + "failover: {witness: \"127.0.0.1:7900\", peerAdmin: \"127.0.0.1:9481\"}\n")
            .failover();
    assertThat(local.witnessCertificate()).as("loopback witness: plain").isNull();
    assertThat(local.peerAdminCertificate()).as("loopback peer: plain").isNull();

    FailoverSettings remote =
        parse(
                PRIMARY
                    + "failover: {witness: \"192.0.2.5:7900\", witnessCertificate: witness.crt, witnessTokenFile: w.token, peerAdmin: \"192.0.2.1:9480\"}\n")
            .failover();
    assertThat(remote.witnessCertificate()).isEqualTo(dir.resolve("witness.crt"));
    assertThat(remote.peerAdminCertificate())
        .as("the peer's admin port presents its WAN certificate by default")
        .isEqualTo(dir.resolve("peer.crt"));
    assertThat(
            parse(PRIMARY + "failover: {peerAdmin: \"https://127.0.0.1:9481\"}\n")
                .failover()
                .peerAdminCertificate())
        .isEqualTo(dir.resolve("peer.crt"));

    assertThatThrownBy(() -> parse(PRIMARY + "failover: {witness: \"192.0.2.5:7900\"}\n"))
        .hasMessageContaining("failover.witnessCertificate must name the certificate");
    assertThatThrownBy(() -> parse(PRIMARY + "failover: {peerAdmin: \"http://192.0.2.1:9480\"}\n"))
        .hasMessageContaining("plain HTTP is allowed only to a loopback address");
  }
}
