package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.site.config.ConfigLoader;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The peer's role: read from its record, typed by cause, and changed one role change at a time. */
class PeerRoleTest {
  @TempDir Path dir;

  private SiteConfig config() throws Exception {
    Files.writeString(dir.resolve("peer.crt"), "");
    Files.createDirectories(dir.resolve("data"));
    return ConfigLoader.parse(
        """
        site: {id: hiroshima, role: standby}
        dataDir: data
        wan: {listen: "127.0.0.1:7800", peer: "127.0.0.1:7801", peerSiteId: tokyo, peerCertificate: peer.crt}
        volumes: [{name: vol0, size: 1MiB}]
        """,
        "site.yaml",
        dir);
  }

  @Test
  void runsTheConfiguredRoleUntilARoleChangeRecordsAnother() throws Exception {
    SiteConfig c = config();
    PeerRole roles = new PeerRole(c, () -> true);
    assertThat(roles.role()).isEqualTo(Role.STANDBY);
    assertThat(roles.promotedByFailover()).isFalse();

    roles.lock("promote", Duration.ofSeconds(1));
    try {
      roles.record(
          new RoleRecord(
              Role.PRIMARY,
              "2026-12-07T05:00:00Z",
              RoleRecord.Cause.PROMOTE,
              "promote (failover from tokyo)",
              false));
      roles.role(Role.PRIMARY);
    } finally {
      roles.unlock();
    }
    PeerRole restarted = new PeerRole(c, () -> true);
    assertThat(restarted.role())
        .as("the recorded role wins over the configured one after a restart")
        .isEqualTo(Role.PRIMARY);
    assertThat(restarted.promotedByFailover()).isTrue();
  }

  @Test
  void aSecondRoleChangeIsRefusedWhileOneIsUnderWay() throws Exception {
    PeerRole roles = new PeerRole(config(), () -> true);
    CompletableFuture<Void> holding = new CompletableFuture<>();
    CompletableFuture<Void> release = new CompletableFuture<>();
    ExecutorService other = Executors.newSingleThreadExecutor();
    try {
      CompletableFuture<Void> first =
          CompletableFuture.runAsync(
              () -> {
                roles.lock("the switchover", Duration.ofSeconds(1));
                try {
                  holding.complete(null);
                  release.join();
                } finally {
                  roles.unlock();
                }
              },
              other);
      holding.get(10, TimeUnit.SECONDS);
      assertThatThrownBy(() -> roles.lock("promote", Duration.ofMillis(50)))
          .isInstanceOf(Promotion.RefusedException.class)
          .hasMessageContaining("another role change is still under way")
          .hasMessageContaining("promote was not started");
      assertThat(roles.awaitRoleChanges(Duration.ofMillis(50)))
          .as("the switchover still holds the lock")
          .isFalse();
      release.complete(null);
      first.get(10, TimeUnit.SECONDS);
      assertThat(roles.awaitRoleChanges(Duration.ofSeconds(10))).isTrue();
    } finally {
      other.shutdownNow();
    }
  }

  @Test
  void noRoleChangeBeginsOnceTheSiteIsClosing() throws Exception {
    AtomicBoolean open = new AtomicBoolean(true);
    PeerRole roles = new PeerRole(config(), open::get);
    open.set(false);
    assertThatThrownBy(() -> roles.lock("promote", Duration.ofSeconds(1)))
        .isInstanceOf(Promotion.RefusedException.class)
        .hasMessageContaining("shutting down");
    assertThat(roles.awaitRoleChanges(Duration.ofMillis(50)))
        .as("a refused role change let go of the lock")
        .isTrue();
  }
}
