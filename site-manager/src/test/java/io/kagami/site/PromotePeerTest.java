package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.clock.SystemTime;
import io.kagami.site.admin.PeerStatus;
import io.kagami.site.admin.SiteStatus;
import io.kagami.site.admin.VolumeStatus;
import io.kagami.site.config.ConfigLoader;
import io.kagami.site.config.SiteConfig;
import io.kagami.testkit.net.FreePorts;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The recovery orchestrator's entry point, {@link Site#promotePeer}, on an N:1 standby run in this
 * JVM: one primary's volumes turn into writable primaries while the other's stay replicas, the
 * promotion survives a restart, and every refusal says why and changes nothing.
 */
class PromotePeerTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  @TempDir Path dir;

  private SiteConfig nToOne() throws Exception {
    int[] ports = FreePorts.loopbackPorts(3);
    StringBuilder peers = new StringBuilder();
    for (String id : new String[] {"tokyo", "osaka"}) {
      Path cert = SiteLink.ensureCredentials(dir.resolve(id + "/tls"), id);
      peers.append(
          "  - {siteId: %s, certificate: %s, volumes: [{name: vol0, size: 4MiB}]}\n"
              .formatted(id, dir.relativize(cert)));
    }
    Path file = dir.resolve("dr.yaml");
    Files.writeString(
        file,
        """
        site: {id: dr, role: standby}
        dataDir: dr
        nbd: {listen: "127.0.0.1:%d"}
        admin: {listen: "127.0.0.1:%d"}
        wan: {listen: "127.0.0.1:%d"}
        peers:
        %s"""
            .formatted(ports[0], ports[1], ports[2], peers.toString().stripTrailing()));
    return ConfigLoader.load(file);
  }

  private static Promotion.RefusedException refusal(Throwable t) {
    Throwable c =
        t instanceof CompletionException || t instanceof ExecutionException ? t.getCause() : t;
    assertThat(c).isInstanceOf(Promotion.RefusedException.class);
    return (Promotion.RefusedException) c;
  }

  private static VolumeStatus volume(SiteStatus s, String name) {
    return s.volumes().stream().filter(v -> v.name().equals(name)).findFirst().orElseThrow();
  }

  private static PeerStatus peer(SiteStatus s, String id) {
    return s.peers().stream().filter(p -> p.siteId().equals(id)).findFirst().orElseThrow();
  }

  @Test
  void onePeersVolumesArePromotedAndStaySoAcrossARestart() throws Exception {
    SiteConfig config = nToOne();
    try (Site site = new Site(config, SystemTime.WALL)) {
      site.start();
      assertThatThrownBy(
              () -> site.promotePeer("kyoto", Optional.empty()).get(30, TimeUnit.SECONDS))
          .satisfies(
              t ->
                  assertThat(refusal(t))
                      .hasMessage("standby dr has no peer \"kyoto\" (peers: tokyo, osaka)"));
      assertThatThrownBy(() -> site.promote(false))
          .isInstanceOf(Promotion.RefusedException.class)
          .hasMessageContaining("promote --peer NAME");

      Promotion p =
          site.promotePeer("osaka", Optional.empty(), true).get(WAIT.toSeconds(), TimeUnit.SECONDS);
      assertThat(p.volumes()).extracting(Promotion.VolumeAt::name).containsExactly("osaka.vol0");

      SiteStatus s = site.status();
      assertThat(s.role()).as("the site stays a standby").isEqualTo("standby");
      assertThat(volume(s, "osaka.vol0").role()).isEqualTo("primary");
      assertThat(volume(s, "tokyo.vol0").role()).isEqualTo("standby");
      assertThat(peer(s, "osaka").role()).isEqualTo(PeerStatus.PROMOTED);
      assertThat(peer(s, "osaka").promotedAt()).isEqualTo(p.at());
      assertThat(peer(s, "tokyo").role()).isEqualTo(PeerStatus.REPLICATING);

      assertThatThrownBy(
              () -> site.promotePeer("osaka", Optional.empty()).get(30, TimeUnit.SECONDS))
          .satisfies(
              t ->
                  assertThat(refusal(t))
                      .hasMessageContaining("were promoted on dr already, at " + p.at()));
      assertThatThrownBy(
              () ->
                  site.promotePeer("tokyo", Optional.of(RecoveryPoint.seq("osaka.vol0", 1)))
                      .get(30, TimeUnit.SECONDS))
          .satisfies(
              t -> assertThat(refusal(t)).hasMessageContaining("is not one of peer tokyo's"));
      assertThat(volume(site.status(), "tokyo.vol0").role())
          .as("a refused promotion changed nothing")
          .isEqualTo("standby");
    }
    try (Site again = new Site(config, SystemTime.WALL)) {
      again.start();
      SiteStatus s = again.status();
      assertThat(volume(s, "osaka.vol0").role()).as("after a restart").isEqualTo("primary");
      assertThat(volume(s, "tokyo.vol0").role()).isEqualTo("standby");
      assertThat(peer(s, "osaka").role()).isEqualTo(PeerStatus.PROMOTED);
    }
  }
}
