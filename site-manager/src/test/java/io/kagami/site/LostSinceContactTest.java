package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.site.link.JournalReceiveSink;
import io.kagami.wan.frame.WanMessage;
import org.junit.jupiter.api.Test;

/**
 * What a standby without its primary says it lacks: writes the primary's last heartbeat counted as
 * unacknowledged, never the verification points it journaled after this site's last entry (the
 * heartbeat's seq counts them, its bytes do not: they change nothing, so losing them loses
 * nothing).
 */
class LostSinceContactTest {
  private static JournalReceiveSink.HeadSeen head(long lastSeq, long unackedWriteBytes) {
    return new JournalReceiveSink.HeadSeen(
        new WanMessage.VolumeHead("vol0", lastSeq, unackedWriteBytes, 0),
        SystemTime.NANO.nanoTime(),
        SystemTime.WALL.instant(),
        0);
  }

  @Test
  void onlyVerificationPointsBeyondThisSiteAreNoLoss() {
    SiteStatusView.Lag points = SiteStatusView.lostSinceContact(head(20, 0), 10, 0);
    assertThat(points.bytes()).as("bytes lost: the primary had only points beyond seq 10").isZero();
    SiteStatusView.Lag writes = SiteStatusView.lostSinceContact(head(20, 4096), 10, 0);
    assertThat(writes.bytes()).as("bytes lost: 4 KiB of writes beyond seq 10").isEqualTo(4096);
    SiteStatusView.Lag arrived = SiteStatusView.lostSinceContact(head(20, 4096), 20, 4096);
    assertThat(arrived.bytes()).as("everything arrived after the heartbeat").isZero();
  }
}
