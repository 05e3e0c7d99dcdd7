package io.kagami.site.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code failover.witness: {etcd: [...], prefix: ...}}, through {@link ConfigLoader}. */
class EtcdWitnessConfigTest {
  private static final String SITE =
      """
      site: {id: tokyo, role: primary}
      dataDir: data
      wan: {peer: "192.0.2.1:7800", peerSiteId: hiroshima, peerCertificate: peer.crt}
      volumes: [{name: vol0, size: 1GiB}]
      failover:
        automatic: true
        peerAdmin: "192.0.2.1:9480"
      """;
  @TempDir Path dir;

  @BeforeEach
  void peerCert() throws Exception {
    Files.writeString(
        dir.resolve("peer.crt"), "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
  }

  private SiteConfig parse(String witness) {
    return ConfigLoader.parse(SITE + witness.indent(2), "site.yaml", dir);
  }

  private void refused(String witness, String... messages) {
    var t = assertThatThrownBy(() -> parse(witness)).isInstanceOf(ConfigException.class);
    for (String m : messages) {
      t.hasMessageContaining(m);
    }
  }

  @Test
  void anEtcdClusterIsTheWitnessWithEveryMemberAndAPrefix() {
    FailoverSettings f =
        parse(
                """
        witness:
          etcd: ["http://10.0.0.1:2379", "http://10.0.0.2:2379/", "http://[::1]:2379"]
          prefix: /kagami/pairs
        """)
            .failover();
    assertThat(f.witness()).as("no built-in witness").isNull();
    assertThat(f.hasWitness()).isTrue();
    assertThat(f.etcdWitness().endpoints())
        .containsExactly(
            URI.create("http://10.0.0.1:2379"),
            URI.create("http://10.0.0.2:2379"),
            URI.create("http://[::1]:2379"));
    assertThat(f.etcdWitness().prefix()).isEqualTo("/kagami/pairs");
    assertThat(f.witnessDescription()).startsWith("etcd http://10.0.0.1:2379,");
  }

  @Test
  void thePrefixDefaultsToKagami() {
    FailoverSettings f = parse("witness: {etcd: [\"http://127.0.0.1:2379\"]}").failover();
    assertThat(f.etcdWitness().prefix()).isEqualTo("/kagami");
  }

  @Test
  void wrongEtcdSettingsAreNamedWithWhatIsExpected() {
    refused("witness: {prefix: /kagami}", "failover.witness.etcd is required");
    refused("witness: {etcd: []}", "failover.witness.etcd must be a non-empty list");
    refused("witness: {etcd: \"http://10.0.0.1:2379\"}", "must be a non-empty list");
    refused(
        "witness: {etcd: [\"10.0.0.1:2379\"]}",
        "failover.witness.etcd[0] 10.0.0.1:2379 must be written http://host:port");
    refused(
        "witness: {etcd: [\"https://10.0.0.1:2379\"]}",
        "failover.witness.etcd[0]",
        "TLS to etcd is not supported yet");
    refused("witness: {etcd: [\"http://10.0.0.1\"]}", "failover.witness.etcd[0] http://10.0.0.1");
    refused(
        "witness: {etcd: [\"http://10.0.0.1:2379\", \"http://10.0.0.1:2379\"]}",
        "failover.witness.etcd[1] http://10.0.0.1:2379 is listed twice");
    refused(
        "witness: {etcd: [\"http://10.0.0.1:2379\"], prefix: kagami}",
        "failover.witness.prefix \"kagami\" must be an etcd key path starting with /");
    refused("witness: {etcd: [\"http://10.0.0.1:2379\"], prefix: /kagami/}", "not ending with /");
    refused(
        "witness: {etcd: [\"http://10.0.0.1:2379\"], prefx: /k}",
        "unknown key failover.witness.prefx; did you mean failover.witness.prefix?");
    refused(
        "witness: [\"http://10.0.0.1:2379\"]",
        "failover.witness must be the built-in witness's host:port or a mapping {etcd:");
  }

  @Test
  void theBuiltInWitnessesTokenAndCertificateDoNotGoWithEtcd() throws Exception {
    Files.writeString(dir.resolve("w.token"), "x");
    refused(
        "witness: {etcd: [\"http://10.0.0.1:2379\"]}\nwitnessTokenFile: w.token",
        "failover.witnessTokenFile is for the built-in witness");
    refused(
        "witness: {etcd: [\"http://10.0.0.1:2379\"]}\nwitnessCertificate: peer.crt",
        "failover.witnessCertificate is for the built-in witness");
  }

  @Test
  void automaticFailoverWithoutAnyWitnessSaysBothForms() {
    assertThatThrownBy(() -> ConfigLoader.parse(SITE, "site.yaml", dir))
        .hasMessageContaining("failover.witness is required")
        .hasMessageContaining("or an etcd cluster");
  }
}
