package io.kagami.site.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.site.admin.AdminServer;
import org.junit.jupiter.api.Test;

class StatusCommandTest {
  @Test
  void theResyncProgressBarShowsShareRateAndEta() throws Exception {
    JsonNode r =
        AdminServer.JSON.readTree(
            "{\"running\":true,\"totalBytes\":20971520,\"remainingBytes\":12582912,\"bytesPerSecond\":3250585.6,\"etaSeconds\":3.87}");
    assertThat(StatusCommand.progressLine(r))
        .isEqualTo(
            "[##########--------------]  40%  12.0 MiB of 20.0 MiB left, 3.1 MiB/s, ETA 4 s");
  }

  @Test
  void aResyncWaitingForTheLinkSaysSo() throws Exception {
    JsonNode r =
        AdminServer.JSON.readTree(
            "{\"running\":false,\"totalBytes\":1048576,\"remainingBytes\":1048576,\"bytesPerSecond\":0}");
    assertThat(StatusCommand.progressLine(r))
        .isEqualTo(
            "[------------------------]   0%  1.0 MiB of 1.0 MiB left (waiting for the link)");
  }

  @Test
  void aConnectedLinkShowsNoStaleErrorAndADisconnectedOneSaysWhatToCheck() throws Exception {
    String connected =
        StatusCommand.table(
            AdminServer.JSON.readTree(
                "{\"siteId\":\"tokyo\",\"role\":\"primary\",\"link\":{\"peerSiteId\":\"hiroshima\",\"connected\":true,\"lastError\":\"Connection refused\"},\"volumes\":[]}"));
    assertThat(connected)
        .contains("link to hiroshima: connected")
        .doesNotContain("Connection refused")
        .doesNotContain("next:");
    String down =
        StatusCommand.table(
            AdminServer.JSON.readTree(
                "{\"siteId\":\"tokyo\",\"role\":\"primary\",\"link\":{\"peerSiteId\":\"hiroshima\",\"address\":\"10.0.0.2:7800\",\"connected\":false,\"lastError\":\"Connection refused\"},\"volumes\":[]}"));
    assertThat(down)
        .contains("DISCONNECTED  (last error: Connection refused)")
        .contains("next: the standby is not connected")
        .contains("10.0.0.2:7800");
  }

  @Test
  void anInconsistentStandbyVolumeWarnsBeforeAPromotion() throws Exception {
    String s =
        StatusCommand.table(
            AdminServer.JSON.readTree(
                "{\"siteId\":\"hiroshima\",\"role\":\"standby\",\"link\":{\"connected\":true},\"volumes\":[{\"name\":\"vol0\",\"role\":\"standby\",\"state\":\"inconsistent\"}]}"));
    assertThat(s)
        .contains(
            "next: vol0 is inconsistent until its resync ends: do not promote this site unless you must (kagami promote --force)");
  }
}
