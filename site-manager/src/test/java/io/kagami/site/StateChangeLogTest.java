package io.kagami.site;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SequencedMap;
import org.junit.jupiter.api.Test;

class StateChangeLogTest {
  private long nowMillis = 1_000_000;
  private final InstantSource clock = () -> Instant.ofEpochMilli(nowMillis);
  private final List<String> lines = new ArrayList<>();
  private final StateChangeLog log =
      new StateChangeLog(lines::add, clock, 3, Duration.ofMinutes(1));

  private static SequencedMap<String, String> link() {
    SequencedMap<String, String> ids = new LinkedHashMap<>();
    ids.put("site", "tokyo");
    ids.put("peer", "hiroshima");
    return ids;
  }

  @Test
  void oneKeyValueLinePerChangeWithQuotedValuesWhereNeeded() {
    log.changed("link", link(), "up", "down", Map.of("error", "connection refused"));
    assertThat(lines)
        .containsExactly(
            "event=state-change kind=link site=tokyo peer=hiroshima from=up to=down error=\"connection refused\"");
  }

  @Test
  void aFlappingLinkLogsABurstThenOneSummaryWithTheTrueCurrentValue() {
    boolean up = true;
    for (int i = 0; i < 1000; i++) {
      log.changed("link", link(), up ? "up" : "down", up ? "down" : "up", Map.of());
      up = !up;
      nowMillis += 10; // 1000 changes in 10 s
      log.flush();
    }
    assertThat(lines).as("burst of 3, nothing more within the minute").hasSize(3);
    nowMillis += Duration.ofMinutes(1).toMillis();
    log.flush();
    assertThat(lines).hasSize(4);
    // 997 changes not logged: the 4th (down -> up) first, the last one (down -> up) ends it.
    assertThat(lines.get(3))
        .isEqualTo(
            "event=state-change kind=link site=tokyo peer=hiroshima from=down to=up suppressed=997");
    log.flush();
    assertThat(lines).as("a summary is logged once").hasSize(4);
  }

  @Test
  void subjectsAreLimitedIndependently() {
    for (int i = 0; i < 10; i++) {
      log.changed("link", link(), "up", "down", Map.of());
    }
    SequencedMap<String, String> vol = new LinkedHashMap<>();
    vol.put("site", "tokyo");
    vol.put("volume", "vol0");
    log.changed("state", vol, "replicating", "buffering", Map.of());
    assertThat(lines)
        .hasSize(4)
        .last()
        .isEqualTo(
            "event=state-change kind=state site=tokyo volume=vol0 from=replicating to=buffering");
  }

  @Test
  void aChangeAfterTheWindowFirstSummarizesThenLogsItself() {
    for (int i = 0; i < 5; i++) {
      log.changed("link", link(), "down", "up", Map.of());
    }
    nowMillis += Duration.ofMinutes(2).toMillis();
    log.changed("link", link(), "up", "down", Map.of());
    assertThat(lines).hasSize(5);
    assertThat(lines.get(3)).endsWith("from=down to=up suppressed=2");
    assertThat(lines.get(4)).endsWith("from=up to=down");
  }
}
