package io.kagami.site.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.testkit.tools.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance g): the libvirt domain XML a profile becomes passes the real {@code virt-xml-validate}
 * (Debian package libvirt-clients) for BIOS + virtio, UEFI + SATA and IDE, in a recovery and in a
 * drill; and the same validator rejects a domain that is wrong, so the check can fail.
 */
class DomainXmlValidateTest {
  private static final Duration T = Duration.ofSeconds(60);

  static final String PROFILES =
      """
      networks:
        prod: {bridge: br-prod}
        drill: {bridge: br-drill}
      servers:
        - name: db
          volumes: [db-data, db-log]
          vcpus: 2
          memory: 2GiB
          firmware: bios
          diskBus: virtio
          nics: [{network: prod, drillNetwork: drill, mac: "52:54:00:00:00:01"}]
        - name: app
          volumes: [app-root, db-data]
          firmware: uefi
          diskBus: sata
          nics: [{network: prod, drillNetwork: drill, model: e1000}]
        - name: legacy
          volumes: [legacy-c]
          machine: pc
          diskBus: ide
          nics: [{network: prod, model: rtl8139}]
      """;

  @TempDir Path dir;

  private ServerProfile server(RecoveryProfiles p, String name) {
    return p.servers().stream().filter(s -> s.name().equals(name)).findFirst().orElseThrow();
  }

  private ExternalTool.Result validate(String xml, String file) throws Exception {
    Path f = Files.writeString(dir.resolve(file), xml);
    // virt-xml-validate is a script around xmllint, which its package does not pull in: without it
    // every domain "fails" (exit 127), which would make the negative case below pass for nothing.
    ExternalTool.require("xmllint");
    return ExternalTool.require("virt-xml-validate").run(T, f.toString(), "domain");
  }

  private void assertValid(String server, boolean drill, boolean kvm) throws Exception {
    RecoveryProfilesLoader.Result loaded = RecoveryProfilesLoader.parse(PROFILES, "recovery.yaml");
    assertThat(loaded.problems()).isEmpty();
    DrHost host =
        new DrHost(
            2,
            8L << 30,
            kvm,
            Path.of("/usr/bin/qemu-system-x86_64"),
            Path.of("/usr/share/OVMF/OVMF_CODE_4M.fd"),
            Path.of("/usr/share/OVMF/OVMF_VARS_4M.fd"));
    Launch launch =
        new Launch(
            "127.0.0.1",
            10809,
            drill,
            dir.resolve(server + ".nvram"),
            dir.resolve(server + ".console"));
    String xml =
        DomainXml.render(server(loaded.profiles(), server), loaded.profiles(), host, launch);
    ExternalTool.Result r = validate(xml, server + (drill ? "-drill" : "") + ".xml");
    assertThat(r.exitCode())
        .as("virt-xml-validate of %s's domain:\n%s\n%s", server, xml, r.describe())
        .isZero();
    assertThat(r.output()).as(r.describe()).contains("validates");
  }

  @Test
  void biosVirtioValidates() throws Exception {
    assertValid("db", false, true);
    assertValid("db", true, false);
  }

  @Test
  void uefiSataValidates() throws Exception {
    assertValid("app", false, true);
    assertValid("app", true, true);
  }

  @Test
  void ideOnPcValidates() throws Exception {
    assertValid("legacy", false, false);
    assertValid("legacy", true, true);
  }

  @Test
  void theValidatorRejectsAWrongDomain() throws Exception {
    RecoveryProfilesLoader.Result loaded = RecoveryProfilesLoader.parse(PROFILES, "recovery.yaml");
    DrHost host = new DrHost(2, 8L << 30, true, null, null, null);
    String xml =
        DomainXml.render(
                server(loaded.profiles(), "db"),
                loaded.profiles(),
                host,
                new Launch("127.0.0.1", 10809, false, null, dir.resolve("c")))
            .replace("bus='virtio'", "bus='scsi-2'");
    ExternalTool.Result r = validate(xml, "wrong.xml");
    assertThat(r.exitCode()).as("virt-xml-validate of a wrong bus: %s", r.describe()).isNotZero();
    assertThat(r.output()).as(r.describe()).contains("fails to validate");
  }

  @Test
  void namesAreEscaped() {
    assertThat(DomainXml.esc("a'<&>\"")).isEqualTo("a&apos;&lt;&amp;&gt;&quot;");
  }
}
