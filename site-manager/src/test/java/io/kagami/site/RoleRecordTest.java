package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.site.config.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The role record: the cause round-trips as a typed value; records without one are still read. */
class RoleRecordTest {
  @TempDir Path dir;

  @Test
  void causeRoundTrips() throws Exception {
    for (RoleRecord.Cause cause : RoleRecord.Cause.values()) {
      RoleRecord r =
          new RoleRecord(
              Role.PRIMARY,
              "2026-12-07T05:00:00Z",
              cause,
              "why: " + cause.label(),
              cause == RoleRecord.Cause.FAILBACK);
      r.persist(dir);
      assertThat(RoleRecord.read(dir)).contains(r);
    }
  }

  @Test
  void recordsWrittenBeforeTheCauseKeyAreReadFromTheirReason() throws Exception {
    Files.writeString(
        dir.resolve(RoleRecord.FILE),
        "role: primary\nsince: 2026-01-01T00:00:00Z\nreason: promote (failover from tokyo)\ndiscardDiverged: false\n");
    assertThat(RoleRecord.read(dir).orElseThrow().cause()).isEqualTo(RoleRecord.Cause.PROMOTE);
    Files.writeString(
        dir.resolve(RoleRecord.FILE), "role: primary\nsince: x\nreason: switchover called off\n");
    assertThat(RoleRecord.read(dir).orElseThrow().cause())
        .isEqualTo(RoleRecord.Cause.SWITCHOVER_CALLED_OFF);
    Files.writeString(
        dir.resolve(RoleRecord.FILE), "role: standby\nsince: x\nreason: switchover to hiroshima\n");
    assertThat(RoleRecord.read(dir).orElseThrow().cause()).isEqualTo(RoleRecord.Cause.SWITCHOVER);
    Files.writeString(
        dir.resolve(RoleRecord.FILE),
        "role: standby\nsince: x\nreason: failback: standby of hiroshima\ndiscardDiverged: true\n");
    assertThat(RoleRecord.read(dir).orElseThrow().cause()).isEqualTo(RoleRecord.Cause.FAILBACK);
  }

  @Test
  void theLegacyPromotedFileMeansPromoted() throws Exception {
    Files.writeString(dir.resolve(RoleRecord.LEGACY_PROMOTED), "at: 2025-01-01T00:00:00Z\n");
    RoleRecord r = RoleRecord.read(dir).orElseThrow();
    assertThat(r.role()).isEqualTo(Role.PRIMARY);
    assertThat(r.cause()).isEqualTo(RoleRecord.Cause.PROMOTE);
  }

  @Test
  void anUnknownCauseIsRefusedNamingTheFile() throws Exception {
    Files.writeString(dir.resolve(RoleRecord.FILE), "role: primary\ncause: teleport\n");
    assertThatThrownBy(() -> RoleRecord.read(dir))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining(RoleRecord.FILE)
        .hasMessageContaining("teleport");
  }
}
