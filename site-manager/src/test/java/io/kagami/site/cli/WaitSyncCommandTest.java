package io.kagami.site.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** When {@code kagami wait-sync} considers a site caught up, from the status it reads. */
class WaitSyncCommandTest {
  private static java.util.List<String> behind(String status) throws Exception {
    return WaitSyncCommand.behind(Json.MAPPER.readTree(status));
  }

  @Test
  void aPrimaryIsInSyncOnlyWithItsLinkUpAndNoLag() throws Exception {
    assertThat(
            behind(
                "{\"role\":\"primary\",\"link\":{\"connected\":true},\"volumes\":[{\"name\":\"vol0\",\"state\":\"replicating\",\"lagBytes\":0}]}"))
        .isEmpty();
    assertThat(
            behind(
                "{\"role\":\"primary\",\"link\":{\"connected\":false,\"peerSiteId\":\"hiroshima\"},\"volumes\":[{\"name\":\"vol0\",\"state\":\"buffering\",\"lagBytes\":0}]}"))
        .containsExactly("link to hiroshima is down");
    assertThat(
            behind(
                "{\"role\":\"primary\",\"link\":{\"connected\":true},\"volumes\":[{\"name\":\"vol0\",\"state\":\"replicating\",\"lagBytes\":4096}]}"))
        .containsExactly("vol0 4096 bytes behind (replicating)");
  }

  @Test
  void aStandbyIsInSyncWhenItAppliedEverythingAndNoVolumeIsInconsistent() throws Exception {
    assertThat(
            behind(
                "{\"role\":\"standby\",\"link\":{\"connected\":false},\"volumes\":[{\"name\":\"vol0\",\"state\":\"replicating\",\"lagBytes\":0}]}"))
        .isEmpty();
    assertThat(
            behind(
                "{\"role\":\"standby\",\"link\":{\"connected\":true},\"volumes\":[{\"name\":\"vol0\",\"state\":\"inconsistent\",\"lagBytes\":0}]}"))
        .containsExactly("vol0 inconsistent");
  }
}
