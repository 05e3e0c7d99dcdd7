package io.kagami.site.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.failover.FailoverConfig;
import io.kagami.failover.monitor.MonitorConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code failover:} section of a site's configuration, through {@link ConfigLoader}. */
class FailoverSectionTest {
  private static final String SITE =
      """
      site: {id: tokyo, role: primary}
      dataDir: data
      wan: {peer: "192.0.2.1:7800", peerSiteId: hiroshima, peerCertificate: peer.crt}
      volumes: [{name: vol0, size: 1GiB}]
      """;
  @TempDir Path dir;

  @BeforeEach
  void peerCert() throws Exception {
    Files.writeString(
        dir.resolve("peer.crt"), "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
  }

  private SiteConfig parse(String failover) {
    return ConfigLoader.parse(SITE + failover, "site.yaml", dir);
  }

  @Test
  void withoutTheSectionThereIsNoFailoverAndWithItAutomaticIsOffUnlessSaid() {
    assertThat(parse("").failover()).isNull();
    FailoverSettings f = parse("failover: {peerAdmin: \"192.0.2.1:9480\"}\n").failover();
    assertThat(f.automatic()).as("automatic failover is an explicit opt-in").isFalse();
    assertThat(f.group()).as("both sites derive the same lease id").isEqualTo("hiroshima+tokyo");
    assertThat(f.policy().heartbeatInterval()).isEqualTo(FailoverConfig.DEFAULT_HEARTBEAT_INTERVAL);
    assertThat(f.policy().selfFenceAfter()).isEqualTo(Duration.ofSeconds(6));
    assertThat(f.policy().peerLostAfter())
        .as("detection within 10 s")
        .isEqualTo(Duration.ofSeconds(8));
    assertThat(f.policy().lease()).isEqualTo(Duration.ofSeconds(10));
    assertThat(f.policy().heartbeatPaths()).containsExactly("wan", "admin");
    assertThat(parse("failover: {automatic: false}\n").failover().policy().heartbeatPaths())
        .as("no second path configured")
        .containsExactly("wan");
  }

  @Test
  void aFullSectionLoads() {
    FailoverSettings f =
        parse(
                """
        failover:
          automatic: true
          witness: "192.0.2.9:7900"
          witnessCertificate: peer.crt
          peerAdmin: "192.0.2.1:9480"
          group: pair-1
          heartbeatInterval: 500ms
          peerLostAfter: 8s
          selfFenceAfter: 4s
          lease: 9s
          fence:
            command: [/usr/sbin/fence_ipmilan, --verbose]
            options: {ip: 10.0.0.9, username: admin}
            timeout: 30s
          monitors:
            - {name: db, type: postgres, host: 127.0.0.1, port: 5432}
            - {name: web, type: http, url: "http://127.0.0.1:8080/health", timeout: 2s}
            - {name: app, type: tcp, host: 127.0.0.1, port: 8080}
          monitorFailures: 2
          monitorInterval: 3s
        """)
            .failover();
    assertThat(f.automatic()).isTrue();
    assertThat(f.witness()).isEqualTo(new HostPort("192.0.2.9", 7900));
    assertThat(f.peerAdmin()).isEqualTo(new HostPort("192.0.2.1", 9480));
    assertThat(f.group()).isEqualTo("pair-1");
    assertThat(f.policy().peerLostAfter()).isEqualTo(Duration.ofSeconds(8));
    assertThat(f.policy().lease()).isEqualTo(Duration.ofSeconds(9));
    assertThat(f.policy().fence().argv()).containsExactly("/usr/sbin/fence_ipmilan", "--verbose");
    assertThat(f.policy().fence().options())
        .isEqualTo(Map.of("ip", "10.0.0.9", "username", "admin"));
    assertThat(f.policy().fence().timeout()).isEqualTo(Duration.ofSeconds(30));
    assertThat(f.policy().monitors())
        .extracting(MonitorConfig::name)
        .isEqualTo(List.of("db", "web", "app"));
    assertThat(f.policy().monitors().get(1)).isInstanceOf(MonitorConfig.Http.class);
    assertThat(f.policy().monitorFailures()).isEqualTo(2);
    assertThat(f.monitorInterval()).isEqualTo(Duration.ofSeconds(3));
  }

  @Test
  void automaticFailoverNeedsAWitnessAndASecondPath() {
    assertThatThrownBy(() -> parse("failover: {automatic: true}\n"))
        .hasMessageContaining("failover.witness is required with automatic: true")
        .hasMessageContaining("failover.peerAdmin is required with automatic: true");
  }

  @Test
  void unsafeTimingsAndBadValuesAreExplained() {
    assertThatThrownBy(
            () -> parse("failover: {selfFenceAfter: 10s, lease: 10s, peerLostAfter: 20s}\n"))
        .hasMessageContaining("selfFenceAfter 10s must be shorter than the witness lease 10s");
    assertThatThrownBy(
            () -> parse("failover: {selfFenceAfter: 8s, peerLostAfter: 8s, lease: 12s}\n"))
        .hasMessageContaining("must be shorter than peerLostAfter 8s");
    assertThatThrownBy(
            () ->
                parse(
                    "failover: {automatic: yes-please, heartbeatInterval: soon, witness: nowhere, colour: red}\n"))
        .hasMessageContaining("failover.automatic must be true or false")
        .hasMessageContaining("failover.heartbeatInterval: \"soon\" is not a duration")
        .hasMessageContaining("failover.witness: \"nowhere\" is not host:port")
        .hasMessageContaining("unknown key failover.colour");
    assertThatThrownBy(
            () ->
                parse(
                    "failover: {fence: {options: {action: reboot}}, monitors: [{name: x, type: smtp}]}\n"))
        .hasMessageContaining("failover.fence.command is required")
        .hasMessageContaining("monitor \"x\": type smtp is not allowed (tcp, http or postgres)");
  }

  @Test
  void theWitnessTokenFileResolvesAgainstTheConfigurationAndMustBeThere() throws Exception {
    assertThatThrownBy(
            () ->
                parse(
                    "failover: {witness: \"192.0.2.7:7900\", witnessCertificate: peer.crt, witnessTokenFile: witness.token}\n"))
        .hasMessageContaining(
            "failover.witnessTokenFile "
                + dir.resolve("witness.token")
                + " does not exist or is not readable");
    assertThatThrownBy(() -> parse("failover: {witnessTokenFile: witness.token}\n"))
        .hasMessageContaining("failover.witness is not");
    java.nio.file.Files.writeString(dir.resolve("witness.token"), "witness-token-0123456789\n");
    assertThat(
            parse(
                    "failover: {witness: \"192.0.2.7:7900\", witnessCertificate: peer.crt, witnessTokenFile: witness.token}\n")
                .failover()
                .witnessToken())
        .isEqualTo(dir.resolve("witness.token"));
    assertThat(
            parse("failover: {witness: \"192.0.2.7:7900\", witnessCertificate: peer.crt}\n")
                .failover()
                .witnessToken())
        .isNull();
  }
}
