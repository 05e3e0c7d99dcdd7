package io.kagami.replicator.verify;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.journal.VerifyPoint;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** The primary's pacing of verification points, driven by a hand-moved clock. */
class VerifyPacerTest {
  private static final long MIB = 1 << 20;
  private long now;
  private final List<VerifyPoint.Mark> placed = new ArrayList<>();

  private CompletableFuture<?> place(VerifyPoint.Mark m) {
    placed.add(m);
    return CompletableFuture.completedFuture(null);
  }

  @Test
  void placesRegionsAtTheRateAndWalksTheVolumeInPasses() {
    VerifyPacer p = new VerifyPacer(5 * MIB / 2, 2 * MIB, 20 * MIB, () -> now);
    now += 1_000_000_000L;
    assertThat(p.doWork(this::place)).as("two MiB in a second").isEqualTo(2);
    now += 500_000_000L; // one more MiB's worth; the last region is half a MiB
    assertThat(p.doWork(this::place)).isEqualTo(1);
    assertThat(placed)
        .extracting(
            VerifyPoint.Mark::offset,
            VerifyPoint.Mark::length,
            VerifyPoint.Mark::pass,
            VerifyPoint.Mark::lastOfPass)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(0L, (int) MIB, 1L, false),
            org.assertj.core.groups.Tuple.tuple(MIB, (int) MIB, 1L, false),
            org.assertj.core.groups.Tuple.tuple(2 * MIB, (int) (MIB / 2), 1L, true));
    now += 500_000_000L;
    p.doWork(this::place);
    assertThat(placed.getLast().pass()).as("the next pass starts at offset 0").isEqualTo(2);
    assertThat(placed.getLast().offset()).isZero();
    now += 60_000_000_000L;
    assertThat(p.doWork(this::place)).as("an idle minute is not a burst").isLessThanOrEqualTo(3);
  }

  @Test
  void withTheRateOffOnlyARequestedPassRunsOnce() {
    VerifyPacer p = new VerifyPacer(3 * MIB, 0, 2 * MIB, () -> now);
    now += 5_000_000_000L;
    assertThat(p.doWork(this::place)).isZero();
    assertThat(p.passNow()).isEqualTo(1);
    for (int i = 0; i < 10; i++) {
      now += 1_000_000_000L;
      p.doWork(this::place);
    }
    assertThat(placed).hasSize(3);
    assertThat(placed.getLast().lastOfPass()).isTrue();
    assertThat(p.passRate()).isEqualTo(2 * MIB);
  }

  @Test
  void pointsAwaitingTheirChecksumAreBounded() {
    VerifyPacer p = new VerifyPacer(1024 * MIB, 1024 * MIB, MIB, () -> now);
    now += 1_000_000_000L;
    List<CompletableFuture<Void>> pending = new ArrayList<>();
    int n =
        p.doWork(
            m -> {
              CompletableFuture<Void> f = new CompletableFuture<>();
              pending.add(f);
              return f;
            });
    assertThat(n).isEqualTo(VerifyPacer.MAX_IN_FLIGHT);
    pending.forEach(f -> f.complete(null));
    now += 1_000_000_000L;
    assertThat(p.doWork(this::place)).isGreaterThan(0);
  }
}
