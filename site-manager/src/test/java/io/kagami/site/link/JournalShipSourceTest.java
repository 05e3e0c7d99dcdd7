package io.kagami.site.link;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A switchover waits for the standby's durable point as a future, completed by the shipper's
 * report.
 */
class JournalShipSourceTest {
  @TempDir Path dir;
  private Journal journal;
  private JournalShipSource source;

  @BeforeEach
  void open() {
    journal = Journal.open(JournalConfig.at(dir.resolve("journal")), SystemTime.WALL);
    source = new JournalShipSource("vol0", 1 << 20, journal.stream("vol0"));
  }

  @AfterEach
  void close() {
    journal.close();
  }

  @Test
  void completesOnceTheStandbyReportsTheSeqDurableAndNotBefore() {
    CompletableFuture<Void> through7 = source.peerDurableThrough(7);
    CompletableFuture<Void> through3 = source.peerDurableThrough(3);
    assertThat(through3).isNotDone();

    source.peerDurable(5);
    assertThat(through3).as("the standby holds seq 5 >= 3").isCompleted();
    assertThat(through7).as("the standby holds only seq 5 < 7").isNotDone();

    source.peerDurable(7);
    assertThat(through7).isCompleted();
    assertThat(source.peerDurableSeq()).isEqualTo(7);
  }

  @Test
  void completesAtOnceWhenTheStandbyHoldsTheSeqAlready() {
    source.peerDurable(9);
    assertThat(source.peerDurableThrough(9)).isCompleted();
    assertThat(source.peerDurableThrough(0)).isCompleted();
    assertThat(source.peerDurableThrough(10)).isNotDone();
  }
}
