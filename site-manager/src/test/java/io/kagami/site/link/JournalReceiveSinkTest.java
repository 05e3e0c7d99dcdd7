package io.kagami.site.link;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.clock.SystemTime;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.journal.JournalEntry;
import io.kagami.journal.JournalRecord;
import io.kagami.journal.JournalStream;
import io.kagami.replicator.apply.Applier;
import io.kagami.replicator.lineage.Generations;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.wan.receive.LinkRefusedException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A standby's journal decides which primaries' histories it may continue. */
class JournalReceiveSinkTest {
  @TempDir Path dir;
  private Journal journal;
  private FileVolume file;
  private JournalStream stream;
  private JournalReceiveSink sink;

  @BeforeEach
  void open() {
    journal = Journal.open(JournalConfig.at(dir.resolve("journal")), SystemTime.WALL);
    file = FileVolume.openOrCreate(dir.resolve("vol0.img"), 1 << 20);
    stream = journal.stream("vol0");
    Applier applier =
        new Applier("vol0", stream, file, SystemTime.WALL, Duration.ofSeconds(1), true);
    sink = new JournalReceiveSink("vol0", 1 << 20, stream, applier, file);
    sink.start();
  }

  @AfterEach
  void close() throws Exception {
    sink.close();
    journal.close();
    file.close();
  }

  private void receive(long through) throws Exception {
    for (long seq = stream.lastSeq() + 1; seq <= through; seq++) {
      sink.store(List.of(JournalEntry.of(seq, JournalRecord.trim(0, 4096))))
          .get(10, TimeUnit.SECONDS);
    }
  }

  /** The generation check, waited for; a refusal is thrown as it is. */
  private void accept(long generation, long prior, long priorEnd) throws Exception {
    try {
      sink.acceptGeneration(generation, prior, priorEnd).get(10, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Exception cause) {
        throw cause;
      }
      throw e;
    }
  }

  @Test
  void aNewStandbyAdoptsThePrimarysGenerationAndKeepsIt() throws Exception {
    assertThat(sink.generation()).isZero();
    accept(11, 0, 0);
    assertThat(sink.generation()).isEqualTo(11);
    receive(5);
    accept(11, 0, 0); // a reconnect of the same primary
    assertThat(stream.meta(Generations.META_GENERATION, 0)).isEqualTo(11);
  }

  @Test
  void aPrimaryGrownOutOfThisHistoryIsFollowedWhenNothingHereIsPastItsStart() throws Exception {
    accept(11, 0, 0);
    receive(5);
    accept(22, 11, 5); // promoted at seq 5: this standby holds exactly up to there
    assertThat(sink.generation()).isEqualTo(22);
  }

  @Test
  void divergedHistoriesAreRefusedWithTheReason() throws Exception {
    accept(11, 0, 0);
    receive(8);
    // A primary promoted from this line at seq 5, while this site went on to seq 8 as another's
    // standby.
    assertThatThrownBy(() -> accept(22, 11, 5))
        .isInstanceOf(LinkRefusedException.class)
        .hasMessageContaining("histories diverged")
        .hasMessageContaining("through seq 8")
        .hasMessageContaining("never merged");
    // An unrelated primary.
    assertThatThrownBy(() -> accept(33, 0, 0)).isInstanceOf(LinkRefusedException.class);
    assertThat(sink.generation()).as("unchanged by a refusal").isEqualTo(11);
  }
}
