package io.kagami.replicator.lineage;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DivergedHistoryTest {
  private static final long SIZE = 1L << 30;

  /** The WAN handshake's limit (WanCodec.MAX_DIVERGED_RANGES), which the site passes in. */
  private static final int MAX_RANGES = 4096;

  private static DivergedRange range(long offset, long length) {
    return new DivergedRange(offset, length);
  }

  @Test
  void overlappingAndAdjacentWritesMergeIntoSortedRanges() {
    List<DivergedRange> touched =
        List.of(
            range(8192, 4096),
            range(0, 4096),
            range(4096, 4096),
            range(1 << 20, 512),
            range((1 << 20) + 256, 4096));
    assertThat(DivergedHistory.coalesce(touched, SIZE, MAX_RANGES))
        .containsExactly(range(0, 12288), range(1 << 20, 4096 + 256));
  }

  @Test
  void tooManyRangesAreRoundedOutThenWidenedToTheWholeVolume() {
    List<DivergedRange> scattered = new ArrayList<>();
    for (long i = 0; i < MAX_RANGES + 10; i++) {
      scattered.add(range(i * 8192, 4096)); // every other 4 KiB: too many exact ranges
    }
    List<DivergedRange> coarse = DivergedHistory.coalesce(scattered, SIZE, MAX_RANGES);
    assertThat(coarse).hasSizeLessThanOrEqualTo(MAX_RANGES);
    long covered = coarse.stream().mapToLong(DivergedRange::length).sum();
    assertThat(covered)
        .isEqualTo(
            (MAX_RANGES + 10) * 8192L / DivergedHistory.COARSE * DivergedHistory.COARSE
                + DivergedHistory.COARSE);
    for (DivergedRange t : scattered) {
      assertThat(coarse).anyMatch(r -> r.offset() <= t.offset() && t.end() <= r.end());
    }

    List<DivergedRange> everywhere = new ArrayList<>();
    for (long i = 0; i < MAX_RANGES + 10; i++) {
      everywhere.add(
          range(i * 2 * DivergedHistory.COARSE, 4096)); // every other MiB: too many even rounded
    }
    assertThat(DivergedHistory.coalesce(everywhere, 1L << 40, MAX_RANGES))
        .containsExactly(range(0, 1L << 40));
  }

  @Test
  void rangesEndAtTheVolumeEnd() {
    assertThat(DivergedHistory.coalesce(List.of(range(SIZE - 4096, 4096)), SIZE, MAX_RANGES))
        .containsExactly(range(SIZE - 4096, 4096));
  }
}
