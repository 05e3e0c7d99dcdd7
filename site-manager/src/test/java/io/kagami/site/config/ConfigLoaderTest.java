package io.kagami.site.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  @TempDir Path dir;

  @BeforeEach
  void peerCert() throws Exception {
    Files.writeString(
        dir.resolve("peer.crt"), "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
  }

  private SiteConfig parse(String yaml) {
    return ConfigLoader.parse(yaml, "site.yaml", dir);
  }

  @Test
  void aCompletePrimaryConfigurationLoadsWithDefaults() {
    SiteConfig c =
        parse(
            """
            site: {id: tokyo, role: primary}
            dataDir: data
            wan: {peer: "192.0.2.1:7800", peerSiteId: hiroshima, peerCertificate: peer.crt}
            volumes:
              - {name: vol0, size: 1GiB}
              - {name: log, size: 64MiB}
            """);
    assertThat(c.siteId()).isEqualTo("tokyo");
    assertThat(c.role()).isEqualTo(Role.PRIMARY);
    assertThat(c.dataDir()).isEqualTo(dir.resolve("data"));
    assertThat(c.nbdListen()).isEqualTo(new HostPort("0.0.0.0", 10809));
    assertThat(c.adminListen()).isEqualTo(new HostPort("127.0.0.1", 9480));
    assertThat(c.wan().peer()).isEqualTo(new HostPort("192.0.2.1", 7800));
    assertThat(c.compress()).isTrue();
    assertThat(c.metrics()).as("metrics are collected unless turned off").isTrue();
    assertThat(c.volumes().get(0).historyCapacityBytes())
        .as("default history capacity")
        .isEqualTo(8L << 30);
    assertThat(c.volumes())
        .containsExactly(new VolumeConfig("vol0", 1L << 30), new VolumeConfig("log", 64L << 20));
    assertThat(c.adminTokenFile())
        .as("default admin token")
        .isEqualTo(dir.resolve("data/admin.token"));
  }

  @Test
  void anOperatorsAdminTokenFileResolvesAgainstTheConfigurationAndMustNotBeADirectory()
      throws Exception {
    assertThat(parse(PRIMARY + "admin: {tokenFile: secrets/admin.token}\n").adminTokenFile())
        .isEqualTo(dir.resolve("secrets/admin.token"));
    java.nio.file.Files.createDirectories(dir.resolve("secrets"));
    assertThatThrownBy(() -> parse(PRIMARY + "admin: {tokenFile: secrets}\n"))
        .hasMessageContaining("admin.tokenFile")
        .hasMessageContaining("is a directory");
  }

  @Test
  void everyProblemIsReportedAtOnceNamingTheKey() {
    assertThatThrownBy(
            () ->
                parse(
                    """
                    site: {id: Tokyo!, role: leader}
                    dataDir: data
                    wan: {peerSiteId: hiroshima, peerCertificate: missing.crt}
                    colour: blue
                    volumes:
                      - {name: db1, size: 0}
                      - {name: db2, size: 12ZB}
                      - {name: db1, size: 1GiB}
                    """))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("site.yaml")
        .hasMessageContaining("site.id \"Tokyo!\" is not allowed")
        .hasMessageContaining("site.role \"leader\" is not allowed (primary or standby)")
        .hasMessageContaining("unknown key colour")
        .hasMessageContaining("wan.peerCertificate")
        .hasMessageContaining(
            "volume \"db1\": size 0 is not allowed (must be a multiple of 4096, at least 1 MiB)")
        .hasMessageContaining("volume \"db2\": size")
        .hasMessageContaining("volume \"db1\" is listed twice");
  }

  @Test
  void aPrimaryNeedsItsStandbysAddressAndAStandbysPeerAddressIsChecked() {
    assertThatThrownBy(
            () ->
                parse(
                    "site: {id: a, role: primary}\ndataDir: d\nwan: {peerSiteId: b, peerCertificate: peer.crt}\nvolumes: [{name: v, size: 1MiB}]"))
        .hasMessageContaining("wan.peer is required on a primary");
    assertThatThrownBy(
            () ->
                parse(
                    "site: {id: a, role: standby}\ndataDir: d\nwan: {peer: \"h:99999\", peerSiteId: b, peerCertificate: peer.crt}\nvolumes: [{name: v, size: 1MiB}]"))
        .hasMessageContaining("wan.peer");
  }

  @Test
  void verifyRateIsARatePerSecondOrOffWithADefault() {
    assertThat(parse(PRIMARY).verify()).isEqualTo(VerifySettings.DEFAULT);
    assertThat(parse(PRIMARY + "verify: {rate: 64MiB/s}\n").verify().rateBytesPerSecond())
        .isEqualTo(64L << 20);
    assertThat(parse(PRIMARY + "verify: {rate: 500KB}\n").verify().rateBytesPerSecond())
        .isEqualTo(500_000);
    assertThat(parse(PRIMARY + "verify: {rate: off}\n").verify().rateBytesPerSecond()).isZero();
    assertThat(parse(PRIMARY + "verify: {rate: \"off\"}\n").verify().rateBytesPerSecond()).isZero();
    assertThat(parse(PRIMARY + "verify: {rate: 0}\n").verify().rateBytesPerSecond()).isZero();
    assertThatThrownBy(() -> parse(PRIMARY + "verify: {rate: fast}\n"))
        .hasMessageContaining(
            "verify.rate \"fast\" is not a rate: give bytes per second such as 20MiB/s, or off");
    assertThatThrownBy(() -> parse(PRIMARY + "verify: {rate: 8TiB/s}\n"))
        .hasMessageContaining("verify.rate \"8TiB/s\" is not allowed (4KiB/s .. 4GiB/s, or off");
    assertThatThrownBy(() -> parse(PRIMARY + "verify: {speed: 1MiB}\n"))
        .hasMessageContaining("verify.speed");
  }

  @Test
  void brokenYamlSaysWhere() {
    assertThatThrownBy(() -> parse("site: {id: a\nvolumes: ["))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("not valid YAML (line");
  }

  @Test
  void sizesAndAddressesParseAsOperatorsWriteThem() {
    assertThat(DataSize.parse("1500KB").bytes()).isEqualTo(1_500_000);
    assertThat(DataSize.parse("4 KiB").bytes()).isEqualTo(4096);
    assertThat(DataSize.parse("2TiB").bytes()).isEqualTo(2L << 40);
    assertThatThrownBy(() -> DataSize.parse("-1")).hasMessageContaining("is not a size");
    assertThatThrownBy(() -> DataSize.parse("1 parsec")).hasMessageContaining("unknown unit");
    assertThat(HostPort.parse("[::1]:10809")).isEqualTo(new HostPort("::1", 10809));
    assertThatThrownBy(() -> HostPort.parse("localhost")).hasMessageContaining("is not host:port");
    assertThatThrownBy(() -> HostPort.parse("h:99999")).hasMessageContaining("out of range");
  }

  @Test
  void historyCapacityAndTheMetricsSwitchAreReadAndChecked() {
    SiteConfig c =
        parse(
            """
            site: {id: tokyo, role: primary}
            dataDir: data
            admin: {metrics: false}
            wan: {peer: "192.0.2.1:7800", peerSiteId: hiroshima, peerCertificate: peer.crt}
            volumes: [{name: vol0, size: 1GiB, historyCapacity: 512MiB}]
            """);
    assertThat(c.metrics()).isFalse();
    assertThat(c.volumes()).containsExactly(new VolumeConfig("vol0", 1L << 30, 512L << 20));
    assertThatThrownBy(
            () ->
                parse(
                    """
                    site: {id: tokyo, role: primary}
                    dataDir: data
                    admin: {metrics: sometimes}
                    wan: {peer: "192.0.2.1:7800", peerSiteId: hiroshima, peerCertificate: peer.crt}
                    volumes: [{name: a, size: 1GiB, historyCapacity: 4KiB}, {name: b, size: 1GiB, historyCapacity: lots}]
                    """))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("admin.metrics must be true or false")
        .hasMessageContaining(
            "volume \"a\": historyCapacity 4KiB is not allowed (at least 1 MiB; default 8GiB)")
        .hasMessageContaining("volume \"b\": historyCapacity \"lots\" is not a size");
  }

  @Test
  void retentionWindowAndByteCapAreReadAndCheckedWithTheReason() {
    SiteConfig c =
        parse(
            """
            site: {id: hiroshima, role: standby}
            dataDir: data
            wan: {listen: "0.0.0.0:7800", peerSiteId: tokyo, peerCertificate: peer.crt}
            volumes: [{name: vol0, size: 1GiB, retention: 1h, retentionMaxBytes: 10GiB}, {name: log, size: 1GiB}]
            """);
    assertThat(c.volumes().get(0).retention())
        .isEqualTo(
            new io.kagami.replicator.history.History.Retention(
                java.time.Duration.ofHours(1), 10L << 30));
    assertThat(c.volumes().get(1).retention().enabled()).as("no retention by default").isFalse();
    assertThatThrownBy(
            () ->
                parse(
                    """
                    site: {id: hiroshima, role: standby}
                    dataDir: data
                    wan: {listen: "0.0.0.0:7800", peerSiteId: tokyo, peerCertificate: peer.crt}
                    volumes: [{name: a, size: 1GiB, retention: forever}, {name: b, size: 1GiB, retention: 1000h}, {name: c, size: 1GiB, retentionMaxBytes: 1KiB}]
                    """))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("volume \"a\": retention \"forever\" is not a duration")
        .hasMessageContaining("volume \"b\": retention 1000h is longer than the 7 days")
        .hasMessageContaining(
            "volume \"c\": retentionMaxBytes 1KiB is not allowed (at least 1 MiB, or 0 for no cap)");
  }

  @Test
  void replicationModeSyncPolicyAndBitmapAreReadAndChecked() {
    SiteConfig c =
        parse(
            """
            site: {id: tokyo, role: primary}
            dataDir: data
            wan: {peer: "192.0.2.1:7800", peerSiteId: hiroshima, peerCertificate: peer.crt}
            volumes:
              - {name: db, size: 1GiB, mode: sync, syncTimeout: 500ms, onSyncTimeout: block, bitmapGranularity: 1MiB}
              - {name: logs, size: 1GiB}
            """);
    VolumeConfig db = c.volumes().get(0);
    assertThat(db.mode()).isEqualTo(ReplicationMode.SYNC);
    assertThat(db.sync().timeout()).isEqualTo(java.time.Duration.ofMillis(500));
    assertThat(db.sync().onTimeout())
        .isEqualTo(io.kagami.replicator.sync.SyncReplication.OnTimeout.BLOCK);
    assertThat(db.bitmapGranularity()).isEqualTo(1 << 20);
    VolumeConfig logs = c.volumes().get(1);
    assertThat(logs.mode()).isEqualTo(ReplicationMode.ASYNC);
    assertThat(logs.sync()).isEqualTo(VolumeConfig.DEFAULT_SYNC_POLICY);
    assertThat(logs.bitmapGranularity()).isEqualTo(64 << 10);

    assertThatThrownBy(
            () ->
                parse(
                    """
                    site: {id: tokyo, role: primary}
                    dataDir: data
                    wan: {peer: "192.0.2.1:7800", peerSiteId: hiroshima, peerCertificate: peer.crt}
                    volumes:
                      - {name: a, size: 1GiB, mode: semi}
                      - {name: b, size: 1GiB, mode: sync, syncTimeout: soon, onSyncTimeout: panic}
                      - {name: c, size: 1GiB, syncTimeout: 5s}
                      - {name: d, size: 1GiB, bitmapGranularity: 3KiB}
                    """))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("volume \"a\": mode semi is not allowed (async or sync)")
        .hasMessageContaining(
            "volume \"b\": syncTimeout \"soon\" is not a duration (examples: 500ms, 10s, 2m, 1h)")
        .hasMessageContaining("volume \"b\": onSyncTimeout panic is not allowed (degrade or block)")
        .hasMessageContaining(
            "volume \"c\": syncTimeout and onSyncTimeout apply to mode: sync only")
        .hasMessageContaining(
            "volume \"d\": bitmapGranularity must be a power of two from 4KiB to 4MiB");
  }

  private static final String PRIMARY =
      "site: {id: tokyo, role: primary}\ndataDir: d\nvolumes: [{name: v, size: 1MiB}]\nwan:\n  peer: \"192.0.2.1:7800\"\n  peerSiteId: hiroshima\n  peerCertificate: peer.crt\n";

  @Test
  void theJournalsReserveAndWalSizeAreReadAndChecked() {
    assertThat(parse(PRIMARY).journal())
        .as("defaults: 64 MiB kept free, 64 MiB of WAL")
        .isEqualTo(new JournalSettings(64L << 20, 64L << 20));
    assertThat(parse(PRIMARY + "journal: {reserve: 0, walSize: 8MiB}\n").journal())
        .isEqualTo(new JournalSettings(0, 8L << 20));
    assertThatThrownBy(
            () -> parse(PRIMARY + "journal: {reserve: lots, walSize: 4KiB, preallocate: 1}\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("journal.reserve \"lots\" is not a size")
        .hasMessageContaining("journal.walSize 4KiB is not allowed (at least 1 MiB; default 64MiB)")
        .hasMessageContaining("preallocate");
  }

  @Test
  void aBandwidthCapAndATimeOfDayScheduleLoad() {
    SiteConfig c =
        parse(
            PRIMARY
                + """
                  bandwidth: 1500KB/s
                  timeZone: Asia/Tokyo
                  bandwidthSchedule:
                    - {from: "08:00", to: "18:00", rate: 1500KB}
                    - {from: "22:00", to: "06:00", rate: unlimited}
                    - {from: 18:30, to: 19:00, rate: 12MB}
                """);
    assertThat(c.wan().bandwidth()).as("1 KB = 1000 bytes for rates").isEqualTo(1_500_000);
    BandwidthSchedule s = c.wan().bandwidthSchedule();
    assertThat(s.zone()).isEqualTo(ZoneId.of("Asia/Tokyo"));
    assertThat(s.windows()).hasSize(3);
    // 09:00 in Tokyo is 00:00 UTC; 23:30 Tokyo wraps past midnight; 18:10 is between windows.
    assertThat(s.rateAt(Instant.parse("2026-01-05T00:00:00Z"))).hasValue(1_500_000);
    assertThat(s.rateAt(Instant.parse("2026-01-05T14:30:00Z"))).hasValue(0);
    assertThat(s.rateAt(Instant.parse("2026-01-05T20:59:00Z"))).as("05:59 Tokyo").hasValue(0);
    assertThat(s.rateAt(Instant.parse("2026-01-05T21:00:00Z")))
        .as("06:00 Tokyo: the night window has ended")
        .isEmpty();
    assertThat(s.rateAt(Instant.parse("2026-01-05T09:45:00Z")))
        .as("18:45 Tokyo")
        .hasValue(12_000_000);
    assertThat(s.rateAt(Instant.parse("2026-01-05T09:10:00Z"))).as("18:10 Tokyo").isEmpty();

    SiteConfig none = parse(PRIMARY);
    assertThat(none.wan().bandwidth()).as("no cap unless configured").isZero();
    assertThat(none.wan().bandwidthSchedule().isEmpty()).isTrue();
  }

  @Test
  void bandwidthMistakesAreExplainedAllAtOnce() {
    assertThatThrownBy(
            () ->
                parse(
                    PRIMARY
                        + """
                          bandwidth: fast
                          timeZone: Mars/Olympus
                          bandwidthSchedule:
                            - {from: "08:00", to: "18:00", rate: 1500KB}
                            - {from: "25:00", to: "8am", rate: 1MB}
                            - {from: "07:00", to: "07:00", rate: 1MB}
                            - {from: "09:00", to: "10:00"}
                            - {from: "12:00", to: "13:00", rate: 1 lightyear, burst: 1}
                            - {from: "17:00", to: "19:00", rate: 1MB}
                        """))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(
            "wan.bandwidth: \"fast\" is not a rate (examples: 1500KB, 12MB/s, 2MiB/s, unlimited)")
        .hasMessageContaining("wan.timeZone \"Mars/Olympus\" is not a time zone")
        .hasMessageContaining("wan.bandwidthSchedule[1].from \"25:00\" is not a time of day (HH:MM")
        .hasMessageContaining("wan.bandwidthSchedule[1].to \"8am\" is not a time of day")
        .hasMessageContaining("wan.bandwidthSchedule[2]: from and to are both 07:00")
        .hasMessageContaining("wan.bandwidthSchedule[3].rate is required")
        .hasMessageContaining("wan.bandwidthSchedule[4].rate: \"1 lightyear\" is not a rate")
        .hasMessageContaining("unknown key wan.bandwidthSchedule[4].burst")
        .hasMessageContaining(
            "wan.bandwidthSchedule[5] (17:00-19:00) overlaps wan.bandwidthSchedule[0] (08:00-18:00) at 17:00");
    assertThatThrownBy(() -> parse(PRIMARY + "  bandwidthSchedule: {from: \"08:00\"}\n"))
        .hasMessageContaining("wan.bandwidthSchedule must be a list of windows");
    assertThatThrownBy(
            () ->
                parse(
                    "site: {id: a, role: standby}\ndataDir: d\nwan: {peerSiteId: b, peerCertificate: peer.crt, bandwidth: 1MB}\nvolumes: [{name: v, size: 1MiB}]"))
        .hasMessageContaining("wan.bandwidth and wan.bandwidthSchedule are for a primary");
  }

  @Test
  void ratesParseAsOperatorsWriteThem() {
    assertThat(Bandwidth.parse("1500KB")).isEqualTo(1_500_000);
    assertThat(Bandwidth.parse("12MB/s")).isEqualTo(12_000_000);
    assertThat(Bandwidth.parse("2MiB/s")).isEqualTo(2L << 20);
    assertThat(Bandwidth.parse("unlimited")).isZero();
    assertThat(Bandwidth.parse("0")).isZero();
    assertThat(Bandwidth.format(1_500_000)).isEqualTo("1500 KB/s (12.0 Mbit/s)");
    assertThat(Bandwidth.format(0)).isEqualTo("unlimited");
  }

  @Test
  void aConsistencyGroupLaysOutItsMembersOneAfterTheOther() {
    SiteConfig c =
        parse(
            "site: {id: a, role: primary}\ndataDir: d\nwan: {peer: \"h:1\", peerSiteId: b, peerCertificate: peer.crt}\n"
                + "volumes: [{name: db, mode: sync, members: [{name: db-data, size: 8MiB}, {name: db-log, size: 1MiB}]}, {name: web, size: 2MiB}]");
    VolumeConfig db = c.volumes().get(0);
    assertThat(db.group()).isTrue();
    assertThat(db.sizeBytes()).isEqualTo(9L << 20);
    assertThat(db.mode()).isEqualTo(ReplicationMode.SYNC);
    assertThat(db.members())
        .containsExactly(
            new VolumeConfig.Member("db-data", 0, 8L << 20),
            new VolumeConfig.Member("db-log", 8L << 20, 1L << 20));
    assertThat(c.volumes().get(1).group()).isFalse();
    assertThatThrownBy(
            () ->
                parse(
                    "site: {id: a, role: primary}\ndataDir: d\nwan: {peer: \"h:1\", peerSiteId: b, peerCertificate: peer.crt}\n"
                        + "volumes: [{name: db, size: 1MiB, members: [{name: web, size: 3000}, {name: x}]}, {name: web, size: 2MiB}, {name: g, members: []}]"))
        .hasMessageContaining(
            "volume \"db\": a consistency group takes its size from its members; remove size")
        .hasMessageContaining("volume \"g\": members must list the group's volumes");
    assertThatThrownBy(
            () ->
                parse(
                    "site: {id: a, role: primary}\ndataDir: d\nwan: {peer: \"h:1\", peerSiteId: b, peerCertificate: peer.crt}\n"
                        + "volumes: [{name: db, members: [{name: web, size: 3000}, {name: x}]}, {name: web, size: 2MiB}]"))
        .hasMessageContaining("volume \"web\": size 3000 is not allowed")
        .hasMessageContaining("volumes[0].members[1] needs a name and a size");
    assertThatThrownBy(
            () ->
                parse(
                    "site: {id: a, role: primary}\ndataDir: d\nwan: {peer: \"h:1\", peerSiteId: b, peerCertificate: peer.crt}\n"
                        + "volumes: [{name: db, members: [{name: web, size: 1MiB}]}, {name: web, size: 2MiB}]"))
        .hasMessageContaining("volume \"web\" is listed twice");
  }

  @Test
  void anNToOneStandbyListsItsPrimariesEachWithNamespacedVolumes() {
    SiteConfig c =
        parse(
            """
            site: {id: dr, role: standby}
            dataDir: data
            peers:
              - siteId: tokyo
                certificate: peer.crt
                historyQuota: 64MiB
                volumes: [{name: vol0, size: 1GiB}, {name: log, size: 64MiB}]
              - siteId: osaka
                certificate: peer.crt
                volumes: [{name: vol0, size: 2GiB}]
            """);
    assertThat(c.nToOne()).isTrue();
    assertThat(c.peerSiteIds()).containsExactly("tokyo", "osaka");
    assertThat(c.volumes().stream().map(VolumeConfig::name))
        .as("two peers may both have vol0: each is held and exported under its own name")
        .containsExactly("tokyo.vol0", "tokyo.log", "osaka.vol0");
    assertThat(c.peerOf("osaka.vol0").remoteName("osaka.vol0")).isEqualTo("vol0");
    assertThat(c.peerOf("tokyo.vol0").localName("vol0")).isEqualTo("tokyo.vol0");
    assertThat(c.peerSiteIdOf("osaka.vol0")).isEqualTo("osaka");
    assertThat(c.volumeFile("osaka.vol0")).isEqualTo(dir.resolve("data/volumes/osaka.vol0.img"));
    assertThat(c.volumes().get(0).retention().maxBytes())
        .as("tokyo's history quota is shared by its two volumes")
        .isEqualTo(32L << 20);
    assertThat(c.volumes().get(2).retention().enabled()).isFalse();
    assertThat(c.wan().peerSiteId()).isNull();
    assertThat(c.wan().listen()).isEqualTo(new HostPort("0.0.0.0", 7800));
  }

  @Test
  void aOneToOneConfigurationIsOneUnnamespacedPeer() {
    SiteConfig c = parse(PRIMARY);
    assertThat(c.nToOne()).isFalse();
    assertThat(c.peers()).hasSize(1);
    assertThat(c.peers().getFirst().localName("vol0")).isEqualTo("vol0");
    assertThat(c.peerSiteIdOf(c.volumes().getFirst().name())).isEqualTo(c.wan().peerSiteId());
  }

  @Test
  void anNToOneStandbyRefusesOneToOneKeysAndBadPeers() {
    assertThatThrownBy(
            () ->
                parse(
                    """
                    site: {id: dr, role: primary}
                    dataDir: data
                    wan: {peer: "192.0.2.1:7800", peerSiteId: tokyo, peerCertificate: peer.crt}
                    volumes: [{name: vol0, size: 1GiB}]
                    failover: {automatic: false}
                    peers:
                      - {siteId: tokyo, certificate: peer.crt, volumes: [{name: vol0, size: 1GiB}]}
                      - {siteId: tokyo, certificate: peer.crt, volumes: [{name: vol0, size: 1GiB}]}
                      - {siteId: dr, certificate: missing.crt, volumes: []}
                      - {siteId: Osaka, certificate: peer.crt, volumes: [{name: vol0, size: 1GiB}]}
                    """))
        .hasMessageContaining("wan.peerSiteId does not go with peers")
        .hasMessageContaining("wan.peer does not go with peers")
        .hasMessageContaining("site.role must be standby")
        .hasMessageContaining("volumes does not go with peers")
        .hasMessageContaining("failover does not go with peers")
        .hasMessageContaining("peers: site \"tokyo\" is listed twice")
        .hasMessageContaining("peers[2].siteId is this site's own id")
        .hasMessageContaining("peers[3].siteId \"Osaka\" is not allowed");
    assertThatThrownBy(
            () ->
                parse(
                    """
                    site: {id: dr, role: standby}
                    dataDir: data
                    peers:
                      - {siteId: tokyo, certificate: missing.crt, volumes: []}
                    """))
        .hasMessageContaining("peers[0].certificate")
        .hasMessageContaining("does not exist")
        .hasMessageContaining("peers[0].volumes must list at least one volume");
  }
}
