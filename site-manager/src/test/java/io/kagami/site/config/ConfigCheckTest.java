package io.kagami.site.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.testkit.net.FreePorts;
import io.kagami.wan.tls.SiteCredentials;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link ConfigLoader#check} over a table of bad configurations: each is refused with the file, the
 * key and the reason, and checking creates nothing in the directory and leaves every port free.
 * Certificates are real (generated as a site generates its own), ports are real loopback ports.
 */
class ConfigCheckTest {
  @TempDir Path dir;
  private ServerSocket busy;
  private int[] ports;

  /**
   * A valid primary: every case below changes one thing. {nbd}, {admin}, {wan}: free loopback
   * ports; {busy}: a port another socket holds during the check.
   */
  private static final String GOOD =
      """
      site: {id: tokyo, role: primary}
      dataDir: data
      nbd: {listen: "127.0.0.1:{nbd}"}
      admin: {listen: "127.0.0.1:{admin}"}
      wan: {peer: "127.0.0.1:7800", listen: "127.0.0.1:{wan}", peerSiteId: hiroshima, peerCertificate: peer-tls/site.crt}
      volumes:
        - {name: vol0, size: 1MiB}
        - {name: vol1, size: 4MiB}
      """;

  private static final String PEER = "peerSiteId: hiroshima, peerCertificate: peer-tls/site.crt";

  /** One bad configuration: what changes in {@link #GOOD}, and the key and reason expected. */
  record Case(String name, String from, String to, String key, String reason) {
    @Override
    public String toString() {
      return name;
    }
  }

  static Stream<Case> badConfigurations() {
    return Stream.of(
        // The four of issue #16.
        new Case(
            "NBD and admin on the same address",
            "127.0.0.1:{admin}",
            "127.0.0.1:{nbd}",
            "admin.listen",
            "clashes with nbd.listen"),
        new Case(
            "a peer certificate that is not PEM",
            "peer-tls/site.crt",
            "not-a-cert.pem",
            "wan.peerCertificate",
            "is not a PEM X.509 certificate"),
        new Case(
            "a volume larger than the filesystem",
            "{name: vol1, size: 4MiB}",
            "{name: vol1, size: 7000000TiB}",
            "volumes[1].size",
            "is larger than the whole filesystem"),
        new Case(
            "dataDir pointing at a file",
            "dataDir: data",
            "dataDir: plain-file",
            "dataDir",
            "is a file, not a directory"),
        // Addresses and ports.
        new Case(
            "a wildcard and a specific address on one port",
            "\"127.0.0.1:{nbd}\"",
            "\"0.0.0.0:{wan}\"",
            "wan.listen",
            "clashes with nbd.listen"),
        new Case(
            "a listen port another process holds",
            "127.0.0.1:{admin}",
            "127.0.0.1:{busy}",
            "admin.listen",
            "is in use by another process"),
        new Case(
            "a listen address of another machine",
            "127.0.0.1:{nbd}",
            "192.0.2.1:{nbd}",
            "nbd.listen",
            "is not an address of this machine"),
        new Case("a port out of range", "127.0.0.1:{nbd}", "h:99999", "nbd.listen", "out of range"),
        // The data directory.
        new Case(
            "dataDir below a file",
            "dataDir: data",
            "dataDir: plain-file/data",
            "dataDir",
            "on its path is a file"),
        new Case(
            "admin.tokenFile a directory",
            "admin: {listen: \"127.0.0.1:{admin}\"}",
            "admin: {listen: \"127.0.0.1:{admin}\", tokenFile: peer-tls}",
            "admin.tokenFile",
            "is a directory"),
        // Certificates and keys.
        new Case(
            "a missing peer certificate",
            "peer-tls/site.crt",
            "missing.crt",
            "wan.peerCertificate",
            "does not exist"),
        new Case(
            "a peer certificate of another site",
            PEER,
            "peerSiteId: osaka, peerCertificate: peer-tls/site.crt",
            "wan.peerCertificate",
            "is for site \"hiroshima\", but wan.peerSiteId is \"osaka\""),
        new Case(
            "an own certificate that is not PEM",
            PEER,
            PEER + ", certificate: not-a-cert.pem, privateKey: tokyo-tls/site.key",
            "wan.certificate",
            "is not a PEM X.509 certificate"),
        new Case(
            "a private key that is not PEM",
            PEER,
            PEER + ", certificate: tokyo-tls/site.crt, privateKey: not-a-cert.pem",
            "wan.privateKey",
            "holds no unencrypted PEM private key"),
        new Case(
            "a private key of another certificate",
            PEER,
            PEER + ", certificate: tokyo-tls/site.crt, privateKey: osaka-tls/site.key",
            "wan.privateKey",
            "does not belong to certificate"),
        new Case(
            "an own certificate for another site id",
            PEER,
            PEER + ", certificate: osaka-tls/site.crt, privateKey: osaka-tls/site.key",
            "wan.certificate",
            "is for site \"osaka\", but site.id is \"tokyo\""),
        new Case(
            "a certificate without its key",
            PEER,
            PEER + ", certificate: tokyo-tls/site.crt",
            "wan.certificate",
            "go together"),
        // Unknown keys, enums, units.
        new Case(
            "a misspelt top-level key",
            "volumes:",
            "volume:",
            "volume",
            "unknown key volume; did you mean volumes?"),
        new Case(
            "a misspelt nested key",
            "nbd: {listen:",
            "nbd: {lisen:",
            "nbd.lisen",
            "did you mean nbd.listen?"),
        new Case(
            "a role that does not exist",
            "role: primary",
            "role: leader",
            "site.role",
            "(primary or standby)"),
        new Case(
            "a replication mode that does not exist",
            "{name: vol0, size: 1MiB}",
            "{name: vol0, size: 1MiB, mode: semi}",
            "volumes[0].mode",
            "(async or sync)"),
        new Case(
            "an onSyncTimeout that does not exist",
            "{name: vol0, size: 1MiB}",
            "{name: vol0, size: 1MiB, mode: sync, onSyncTimeout: panic}",
            "volumes[0].onSyncTimeout",
            "(degrade or block)"),
        new Case(
            "a duration without a unit",
            "{name: vol0, size: 1MiB}",
            "{name: vol0, size: 1MiB, mode: sync, syncTimeout: 10}",
            "volumes[0].syncTimeout",
            "is not a duration (examples: 500ms, 10s, 2m, 1h)"),
        new Case(
            "a size with an unknown unit",
            "size: 1MiB}",
            "size: 1 parsec}",
            "volumes[0].size",
            "unknown unit \"parsec\""),
        new Case(
            "a size that is not a multiple of 4096",
            "size: 1MiB}",
            "size: 1000000}",
            "volumes[0].size",
            "must be a multiple of 4096, at least 1 MiB"),
        new Case(
            "a size under 1 MiB",
            "size: 1MiB}",
            "size: 512KiB}",
            "volumes[0].size",
            "at least 1 MiB"),
        new Case(
            "a group member of a bad size",
            "{name: vol1, size: 4MiB}",
            "{name: vol1, members: [{name: m0, size: 1MiB}, {name: m1, size: 5000}]}",
            "volumes[1].members[1].size",
            "must be a multiple of 4096"),
        new Case(
            "a history capacity under 1 MiB",
            "{name: vol0, size: 1MiB}",
            "{name: vol0, size: 1MiB, historyCapacity: 4KiB}",
            "volumes[0].historyCapacity",
            "at least 1 MiB"),
        new Case(
            "a bandwidth that is not a rate",
            PEER,
            PEER + ", bandwidth: fast",
            "wan.bandwidth",
            "is not a rate"),
        new Case(
            "a time zone that does not exist",
            PEER,
            PEER + ", timeZone: Mars/Olympus",
            "wan.timeZone",
            "is not a time zone"),
        new Case(
            "a site id with capitals",
            "id: tokyo",
            "id: Tokyo",
            "site.id",
            "lower-case letters, digits and '-'"),
        new Case(
            "a volume listed twice",
            "{name: vol1, size: 4MiB}",
            "{name: vol0, size: 4MiB}",
            "volumes[1].name",
            "volume \"vol0\" is listed twice"),
        new Case(
            "automatic failover without a witness",
            "volumes:",
            "failover: {automatic: true, peerAdmin: \"127.0.0.1:9481\"}\nvolumes:",
            "failover.witness",
            "is required with automatic: true"));
  }

  @BeforeEach
  void fixtures() throws IOException {
    SiteCredentials.loadOrCreate(dir.resolve("peer-tls"), "hiroshima");
    SiteCredentials.loadOrCreate(dir.resolve("tokyo-tls"), "tokyo");
    SiteCredentials.loadOrCreate(dir.resolve("osaka-tls"), "osaka");
    Files.writeString(dir.resolve("not-a-cert.pem"), "this is a certificate, honest\n");
    Files.writeString(dir.resolve("plain-file"), "not a directory\n");
    busy = new ServerSocket();
    busy.bind(new InetSocketAddress(FreePorts.loopback(), 0));
    ports = FreePorts.loopbackPorts(3);
  }

  @AfterEach
  void release() throws IOException {
    busy.close();
  }

  private Path write(String yaml) throws IOException {
    Path file = dir.resolve("site.yaml");
    Files.writeString(
        file,
        yaml.replace("{nbd}", Integer.toString(ports[0]))
            .replace("{admin}", Integer.toString(ports[1]))
            .replace("{wan}", Integer.toString(ports[2]))
            .replace("{busy}", Integer.toString(busy.getLocalPort())));
    return file;
  }

  @Test
  void theGoodConfigurationPassesSoEachCaseFailsForItsOneChange() throws IOException {
    ConfigCheck check = ConfigLoader.check(write(GOOD), true);
    assertThat(check.problems()).as("problems of the unchanged configuration").isEmpty();
    assertThat(check.config().volumes()).hasSize(2);
    assertThat(badConfigurations().count()).as("bad configurations in the table").isGreaterThan(25);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badConfigurations")
  void eachBadConfigurationIsRefusedWithFileKeyAndReasonAndNothingCreated(Case c)
      throws IOException {
    assertThat(GOOD).as("the case's text to change").contains(c.from());
    Path file = write(GOOD.replace(c.from(), c.to()));
    List<String> before = listing(dir);

    ConfigCheck check = ConfigLoader.check(file, true);

    assertThat(check.ok()).as("%s is refused", c.name()).isFalse();
    assertThat(check.config()).isNull();
    assertThat(check.problems())
        .as("problems of %s", c.name())
        .anySatisfy(
            p -> {
              assertThat(p.file()).isEqualTo(file.toString());
              assertThat(p.key()).isEqualTo(c.key());
              assertThat(p.reason()).contains(c.reason());
              assertThat(p.toString())
                  .as("the line printed")
                  .startsWith(file + ": ")
                  .contains(c.key())
                  .contains(c.reason());
            });
    assertThat(listing(dir)).as("files after the check").isEqualTo(before);
    assertPortsFree();
  }

  @Test
  void theFourProblemsOfIssue16AreReportedTogether() throws IOException {
    String yaml =
        GOOD.replace("127.0.0.1:{admin}", "127.0.0.1:{nbd}")
            .replace("peer-tls/site.crt", "not-a-cert.pem")
            .replace("size: 4MiB", "size: 7000000TiB")
            .replace("dataDir: data", "dataDir: data-dir-is-a-file");
    Files.writeString(dir.resolve("data-dir-is-a-file"), "x");
    Path file = write(yaml);
    List<String> before = listing(dir);

    ConfigCheck check = ConfigLoader.check(file, true);

    assertThat(check.problems())
        .extracting(ConfigProblem::key)
        .contains("admin.listen", "wan.peerCertificate", "dataDir");
    assertThat(listing(dir)).isEqualTo(before);
    // The volume is checked against the filesystem only with a usable data directory.
    Files.delete(dir.resolve("data-dir-is-a-file"));
    assertThat(ConfigLoader.check(write(yaml), true).problems())
        .extracting(ConfigProblem::key)
        .contains("admin.listen", "wan.peerCertificate", "volumes[1].size");
    assertThat(ConfigLoader.check(write(yaml), true).problems())
        .as("a data directory that does not exist yet is fine: it is created")
        .extracting(ConfigProblem::key)
        .doesNotContain("dataDir");
  }

  @Test
  void aBusyWanListenOnAPrimaryIsAWarningAndOnAStandbyAProblem() throws IOException {
    String busyWan = GOOD.replace("127.0.0.1:{wan}", "127.0.0.1:{busy}");
    ConfigCheck primary = ConfigLoader.check(write(busyWan), true);
    assertThat(primary.problems()).isEmpty();
    assertThat(primary.warnings())
        .singleElement()
        .satisfies(w -> assertThat(w.toString()).contains("wan.listen").contains("is in use"));
    ConfigCheck standby =
        ConfigLoader.check(write(busyWan.replace("role: primary", "role: standby")), true);
    assertThat(standby.problems()).extracting(ConfigProblem::key).containsExactly("wan.listen");
  }

  @Test
  void aGeneratedKeyPairOfAnotherSiteInTheDataDirectoryIsRefused() throws IOException {
    SiteCredentials.loadOrCreate(dir.resolve("data/tls"), "osaka");
    ConfigCheck check = ConfigLoader.check(write(GOOD), true);
    assertThat(check.problems())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.key()).isEqualTo("dataDir");
              assertThat(p.reason()).contains("is for site \"osaka\", but site.id is \"tokyo\"");
            });
  }

  @Test
  void withoutThePortProbeBusyPortsAreNotLookedAt() throws IOException {
    assertThat(
            ConfigLoader.check(write(GOOD.replace("127.0.0.1:{admin}", "127.0.0.1:{busy}")), false)
                .problems())
        .isEmpty();
  }

  @Test
  void suggestionsAreForNearKeysOnly() {
    assertThat(ConfigReader.nearest("dataDIR", "dataDir", "site")).isEqualTo("dataDir");
    assertThat(ConfigReader.nearest("volume", "volumes", "site")).isEqualTo("volumes");
    assertThat(ConfigReader.nearest("colour", "volumes", "site", "wan")).isNull();
  }

  private void assertPortsFree() throws IOException {
    for (int port : ports) {
      try (ServerSocket s = new ServerSocket()) {
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(FreePorts.loopback(), port));
      }
    }
  }

  /** Every path under {@code root} with its size, sorted. */
  static List<String> listing(Path root) throws IOException {
    List<String> out = new ArrayList<>();
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.sorted().toList()) {
        out.add(root.relativize(p) + (Files.isRegularFile(p) ? " " + Files.size(p) : "/"));
      }
    }
    return out;
  }
}
