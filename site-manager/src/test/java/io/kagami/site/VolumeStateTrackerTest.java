package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.site.VolumeStateTracker.Observation;
import org.junit.jupiter.api.Test;

class VolumeStateTrackerTest {
  private static Observation primary(boolean linkUp, long history) {
    return new Observation(true, linkUp, history, false);
  }

  @Test
  void aPrimaryReplicatesWhileTheLinkIsUpAndHistoryDrains() {
    VolumeStateTracker t = new VolumeStateTracker(true);
    assertThat(t.current())
        .as("before the first observation the link is not known to be up")
        .isEqualTo(VolumeState.BUFFERING);
    assertThat(t.observe(primary(true, 0))).isEqualTo(VolumeState.REPLICATING);
    assertThat(t.observe(primary(true, 4096)))
        .as("one larger sample is a batch in flight")
        .isEqualTo(VolumeState.REPLICATING);
    assertThat(t.observe(primary(true, 0))).isEqualTo(VolumeState.REPLICATING);
  }

  @Test
  void aPrimaryBuffersWhileTheLinkIsDownOrHistoryKeepsGrowing() {
    VolumeStateTracker t = new VolumeStateTracker(true);
    assertThat(t.observe(primary(false, 0))).isEqualTo(VolumeState.BUFFERING);
    assertThat(t.observe(primary(true, 100))).isEqualTo(VolumeState.REPLICATING);
    assertThat(t.observe(primary(true, 200))).isEqualTo(VolumeState.REPLICATING);
    assertThat(t.observe(primary(true, 300)))
        .as("grown on " + VolumeStateTracker.GROWING_TICKS + " ticks in a row")
        .isEqualTo(VolumeState.BUFFERING);
    assertThat(t.observe(primary(true, 400))).isEqualTo(VolumeState.BUFFERING);
    assertThat(t.observe(primary(true, 250)))
        .as("draining again")
        .isEqualTo(VolumeState.REPLICATING);
    assertThat(t.current()).isEqualTo(VolumeState.REPLICATING);
  }

  @Test
  void failuresDegradeEitherRoleAndAStandbyOtherwiseReplicates() {
    VolumeStateTracker p = new VolumeStateTracker(true);
    assertThat(p.observe(new Observation(true, true, 0, true))).isEqualTo(VolumeState.DEGRADED);
    VolumeStateTracker s = new VolumeStateTracker(false);
    assertThat(s.current()).isEqualTo(VolumeState.REPLICATING);
    assertThat(s.observe(new Observation(false, false, 1 << 20, false)))
        .isEqualTo(VolumeState.REPLICATING);
    assertThat(s.observe(new Observation(false, true, 0, true))).isEqualTo(VolumeState.DEGRADED);
  }

  @Test
  void labelsAreLowerCaseWithHyphens() {
    assertThat(VolumeState.INITIAL_SYNC.label()).isEqualTo("initial-sync");
    assertThat(java.util.Arrays.stream(VolumeState.values()).map(VolumeState::label))
        .containsExactly(
            "initial-sync",
            "replicating",
            "buffering",
            "degraded",
            "blocked",
            "bitmap",
            "resyncing",
            "inconsistent",
            "fenced",
            "disk-full",
            "disconnected");
  }
}
