package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which peers a real recovery on an N:1 standby promotes, and when it refuses. */
class PeerGroupsTest {
  private static String peerOf(String volume) {
    int dot = volume.indexOf('.');
    return dot < 0 ? null : volume.substring(0, dot);
  }

  @Test
  void eachPeerOnceInTheOrderOfItsFirstVolume() {
    Map<String, List<String>> groups =
        PeerGroups.of(
            "dr",
            List.of("osaka.app", "tokyo.db", "osaka.log", "tokyo.db"),
            PeerGroupsTest::peerOf);
    assertThat(groups.keySet()).containsExactly("osaka", "tokyo");
    assertThat(groups.get("osaka")).containsExactly("osaka.app", "osaka.log");
    assertThat(groups.get("tokyo")).containsExactly("tokyo.db");
  }

  @Test
  void aVolumeOfNoPeerIsRefusedByName() {
    assertThatThrownBy(
            () -> PeerGroups.of("dr", List.of("tokyo.db", "stray"), PeerGroupsTest::peerOf))
        .isInstanceOf(Promotion.RefusedException.class)
        .hasMessageContaining("volume stray is not replicated from any peer of standby dr");
  }
}
