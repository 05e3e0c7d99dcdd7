package io.kagami.site.recovery;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.site.config.ConfigLoader;
import io.kagami.site.config.SiteConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A server names NBD exports: a consistency group's members are exports of their own (the group's
 * name is not), each in the group's state, so a database recovered from its data and log members
 * plans.
 */
class ReplicaVolumeTest {
  @TempDir Path dir;

  @Test
  void aConsistencyGroupsMembersAreTheExportsAServerNames() throws Exception {
    Files.writeString(
        dir.resolve("peer.crt"), "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
    SiteConfig site =
        ConfigLoader.parse(
            """
            site: {id: hiroshima, role: standby}
            dataDir: data
            wan: {listen: "0.0.0.0:7800", peerSiteId: tokyo, peerCertificate: peer.crt}
            volumes:
              - {name: web-root, size: 1GiB}
              - {name: db, members: [{name: db-data, size: 2GiB}, {name: db-log, size: 64MiB}]}
            """,
            "site.yaml",
            dir);
    List<ReplicaVolume> exports =
        ReplicaVolume.exports(
            site.volumes(), Map.of("web-root", "replicating", "db", "resyncing")::get);
    assertThat(exports)
        .containsExactly(
            new ReplicaVolume("web-root", "replicating", 1L << 30),
            new ReplicaVolume("db-data", "resyncing", 2L << 30),
            new ReplicaVolume("db-log", "resyncing", 64L << 20));

    RecoveryPlan plan =
        RecoveryPlanner.plan(
            RecoveryProfilesLoader.parse(
                "servers: [{name: db, volumes: [db-data, db-log]}]", "recovery.yaml"),
            RecoveryPlannerTest.HOST,
            exports);
    assertThat(plan.problems())
        .extracting(PlanProblem::key)
        .as("both members named, each not consistent while the group resyncs")
        .containsExactly("volumes[0]", "volumes[1]");
  }
}
