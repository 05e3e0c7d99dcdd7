package io.kagami.site.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.site.config.ConfigLoader;
import io.kagami.site.config.SiteConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where a site finds its recovery profiles: {@code recovery.yaml} beside its YAML unless its {@code
 * recovery:} key names another file (relative to the YAML); a site loads without one.
 */
class RecoveryFileTest {
  @TempDir Path dir;

  private SiteConfig site(String extra) throws Exception {
    Files.writeString(
        dir.resolve("peer.crt"), "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
    return ConfigLoader.parse(
        """
        site: {id: hiroshima, role: standby}
        dataDir: data
        wan: {listen: "0.0.0.0:7800", peerSiteId: tokyo, peerCertificate: peer.crt}
        volumes: [{name: vol0, size: 1GiB}]
        """
            + extra,
        "site.yaml",
        dir);
  }

  @Test
  void besideTheSiteYamlByDefault() throws Exception {
    assertThat(site("").recoveryFile()).isEqualTo(dir.resolve("recovery.yaml"));
    assertThat(Files.exists(dir.resolve("recovery.yaml")))
        .as("a site loads without recovery profiles")
        .isFalse();
  }

  @Test
  void theRecoveryKeyNamesAnotherFile() throws Exception {
    assertThat(site("recovery: profiles/dr.yaml\n").recoveryFile())
        .isEqualTo(dir.resolve("profiles/dr.yaml"));
  }
}
