package io.kagami.site.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.replicator.volume.AppendTimer;
import io.kagami.site.VolumeState;
import io.kagami.site.admin.LinkStatus;
import io.kagami.site.admin.PeerStatus;
import io.kagami.site.admin.SiteStatus;
import io.kagami.site.admin.VolumeStatus;
import io.kagami.site.config.VolumeConfig;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The contract metric names and values, from a status snapshot given by hand. */
class SiteMetricsTest {
  private static SiteStatus status(VolumeState state, long lag) {
    return new SiteStatus(
        "tokyo",
        "primary",
        "127.0.0.1:10809",
        new LinkStatus(state == VolumeState.REPLICATING, "hiroshima", null, 100, 60, null),
        List.of(
            new VolumeStatus(
                "vol0",
                "primary",
                "async",
                state,
                1 << 30,
                9,
                7L,
                null,
                7L,
                lag,
                512L << 20,
                0.5,
                lag,
                0.5,
                null,
                null,
                null)));
  }

  @Test
  void scrapeCarriesTheContractSeries() {
    AtomicReference<SiteStatus> now = new AtomicReference<>(status(VolumeState.REPLICATING, 0));
    try (SiteMetrics m =
        new SiteMetrics(
            now::get,
            "tokyo",
            "primary",
            "hiroshima",
            List.of(new VolumeConfig("vol0", 1L << 30, 512L << 20)))) {
      AppendTimer appends = m.journalAppendTimer("vol0");
      appends.appended(250_000);
      appends.appended(2_000_000);
      String text = m.scrape();
      String vol = "peer=\"hiroshima\",site=\"tokyo\",volume=\"vol0\"";
      assertThat(text)
          .contains("kagami_history_capacity_bytes{" + vol + "} 5.36870912E8")
          .contains("kagami_resync_remaining_bytes{" + vol + "} 0.0")
          .contains(
              "# HELP kagami_resync_remaining_bytes Bytes of changed regions a resync still has to copy to the standby (0 when none is due)")
          .contains(
              "kagami_volume_state{peer=\"hiroshima\",site=\"tokyo\",state=\"replicating\",volume=\"vol0\"} 1.0")
          .contains("kagami_journal_append_seconds_count{" + vol + "} 2")
          .contains("kagami_journal_append_seconds_bucket{" + vol + ",le=")
          .contains("kagami_wan_connected{peer=\"hiroshima\",site=\"tokyo\"} 1.0");
      for (VolumeState s : VolumeState.values()) {
        assertThat(text)
            .as("one series per state, " + s)
            .containsPattern(
                "kagami_volume_state\\{peer=\"hiroshima\",site=\"tokyo\",state=\""
                    + s.label()
                    + "\",volume=\"vol0\"} "
                    + (s == VolumeState.REPLICATING ? "1.0" : "0.0"));
      }

      now.set(status(VolumeState.BUFFERING, 4096));
      String later = m.scrape();
      assertThat(later)
          .contains(
              "kagami_volume_state{peer=\"hiroshima\",site=\"tokyo\",state=\"buffering\",volume=\"vol0\"} 1.0")
          .contains(
              "kagami_volume_state{peer=\"hiroshima\",site=\"tokyo\",state=\"replicating\",volume=\"vol0\"} 0.0")
          .contains("kagami_replication_lag_bytes{" + vol + "} 4096.0")
          .contains("kagami_wan_connected{peer=\"hiroshima\",site=\"tokyo\"} 0.0");
    }
  }

  private static VolumeStatus standbyVolume(String name, long lag) {
    return new VolumeStatus(
        name,
        "standby",
        "async",
        VolumeState.REPLICATING,
        1 << 30,
        9,
        null,
        7L,
        null,
        lag,
        512L << 20,
        0.5,
        null,
        null,
        null,
        null,
        null);
  }

  @Test
  void anNToOneStandbyLabelsEachVolumeAndLinkWithItsOwnPeer() {
    SiteStatus status =
        new SiteStatus(
            "dr",
            "standby",
            "127.0.0.1:10809",
            new LinkStatus(false, "tokyo,osaka", null, 300, 200, null),
            List.of(standbyVolume("tokyo.vol0", 0), standbyVolume("osaka.vol0", 8192)),
            null,
            false,
            List.of(
                new PeerStatus("tokyo", true, "127.0.0.1:1", "t", List.of("tokyo.vol0"), 100, 0, 0),
                new PeerStatus("osaka", false, null, null, List.of("osaka.vol0"), 200, 8192, 3.0)));
    try (SiteMetrics m =
        new SiteMetrics(
            () -> status,
            "dr",
            "standby",
            volume -> volume.substring(0, volume.indexOf('.')),
            List.of("tokyo", "osaka"),
            List.of(
                new VolumeConfig("tokyo.vol0", 1L << 30, 512L << 20),
                new VolumeConfig("osaka.vol0", 1L << 30, 512L << 20)))) {
      String text = m.scrape();
      assertThat(text)
          .contains(
              "kagami_replication_lag_bytes{peer=\"tokyo\",site=\"dr\",volume=\"tokyo.vol0\"} 0.0")
          .contains(
              "kagami_replication_lag_bytes{peer=\"osaka\",site=\"dr\",volume=\"osaka.vol0\"} 8192.0")
          .contains("kagami_wan_connected{peer=\"tokyo\",site=\"dr\"} 1.0")
          .contains("kagami_wan_connected{peer=\"osaka\",site=\"dr\"} 0.0")
          .contains(
              "kagami_wan_sent_bytes_total{encoding=\"raw\",peer=\"osaka\",site=\"dr\"} 200.0")
          .contains("kagami_wan_sent_bytes_total{encoding=\"wire\",peer=\"*\",site=\"dr\"} 200.0");
    }
  }
}
