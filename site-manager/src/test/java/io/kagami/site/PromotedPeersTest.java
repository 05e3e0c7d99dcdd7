package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-peer promotion state of an N:1 standby: a peer is refused while its promotion runs and
 * for good once recorded, the record survives a restart, and every other peer stays admitted.
 */
class PromotedPeersTest {
  @TempDir Path dir;

  private static PromotedPeers.PeerPromotion osaka() {
    return new PromotedPeers.PeerPromotion(
        "osaka",
        "2026-12-07T05:00:00Z",
        true,
        List.of(
            new Promotion.VolumeAt("osaka.vol0", 812, true),
            new Promotion.VolumeAt("osaka.vol1", 17, false)));
  }

  @Test
  void aStandbyWithNoRecordAdmitsEveryPeer() {
    PromotedPeers p = PromotedPeers.read(dir, "dr");
    assertThat(p.all()).isEmpty();
    for (String id : List.of("tokyo", "osaka", "nagoya")) {
      assertThat(p.promoted(id)).isFalse();
      assertThat(p.refusal(id)).as(id).isNull();
    }
  }

  @Test
  void aPeerBeingPromotedIsRefusedAndAdmittedAgainWhenItIsCalledOff() {
    PromotedPeers p = PromotedPeers.read(dir, "dr");
    p.refuse("osaka");
    assertThat(p.refusal("osaka")).isEqualTo("site \"osaka\" is being promoted on standby dr");
    assertThat(p.refusal("tokyo")).as("another peer").isNull();
    assertThat(p.promoted("osaka")).as("not recorded yet").isFalse();
    p.admit("osaka");
    assertThat(p.refusal("osaka")).isNull();
  }

  @Test
  void aRecordedPeerIsRefusedAsStaleAndStaysSoAfterARestart() throws Exception {
    PromotedPeers p = PromotedPeers.read(dir, "dr");
    p.refuse("osaka");
    p.record(osaka());
    p.admit("osaka"); // a promotion's in-memory refusal ending does not admit a recorded peer
    assertThat(p.promoted("osaka")).isTrue();
    assertThat(p.refusal("osaka"))
        .contains("site \"osaka\" is stale")
        .contains("promoted on standby dr at 2026-12-07T05:00:00Z")
        .contains("kagami promote --peer osaka")
        .contains("new data generation");
    assertThat(p.refusal("tokyo")).isNull();
    assertThat(Files.exists(dir.resolve("promoted-peer.osaka"))).isTrue();
    assertThat(Files.exists(dir.resolve("promoted")))
        .as("never the 1:1 record, which would make the whole site a primary")
        .isFalse();

    PromotedPeers restarted = PromotedPeers.read(dir, "dr");
    assertThat(restarted.of("osaka")).isEqualTo(osaka());
    assertThat(restarted.refusal("osaka")).contains("is stale");
    assertThat(restarted.refusal("nagoya")).isNull();
  }

  @Test
  void aRecordThatNamesAnotherPeerIsRefusedNamingTheFile() throws Exception {
    Files.writeString(dir.resolve("promoted-peer.osaka"), "peer: tokyo\nat: x\n");
    assertThatThrownBy(() -> PromotedPeers.read(dir, "dr"))
        .hasMessageContaining("promoted-peer.osaka does not name its peer")
        .hasMessageContaining("peer: osaka");
  }

  @Test
  void leftoverTemporaryFilesAreIgnored() throws Exception {
    Files.writeString(dir.resolve("promoted-peer.osaka.tmp"), "peer: osaka\n");
    assertThat(PromotedPeers.read(dir, "dr").all()).isEmpty();
  }
}
