package io.kagami.site.link;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage.Range;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DivergedHistoryTest {
  private static final long SIZE = 1L << 30;

  @Test
  void overlappingAndAdjacentWritesMergeIntoSortedRanges() {
    List<long[]> touched = List.of(new long[] {8192, 4096}, new long[] {0, 4096}, new long[] {4096, 4096}, new long[] {1 << 20, 512}, new long[] {(1 << 20) + 256, 4096});
    assertThat(DivergedHistory.coalesce(touched, SIZE)).containsExactly(new Range(0, 12288), new Range(1 << 20, 4096 + 256));
  }

  @Test
  void tooManyRangesAreRoundedOutThenWidenedToTheWholeVolume() {
    List<long[]> scattered = new ArrayList<>();
    for (long i = 0; i < WanCodec.MAX_DIVERGED_RANGES + 10; i++) {
      scattered.add(new long[] {i * 8192, 4096}); // every other 4 KiB: too many exact ranges
    }
    List<Range> coarse = DivergedHistory.coalesce(scattered, SIZE);
    assertThat(coarse).hasSizeLessThanOrEqualTo(WanCodec.MAX_DIVERGED_RANGES);
    long covered = coarse.stream().mapToLong(Range::length).sum();
    assertThat(covered).isEqualTo((WanCodec.MAX_DIVERGED_RANGES + 10) * 8192L / DivergedHistory.COARSE * DivergedHistory.COARSE + DivergedHistory.COARSE);
    for (long[] t : scattered) {
      assertThat(coarse).anyMatch(r -> r.offset() <= t[0] && t[0] + t[1] <= r.end());
    }

    List<long[]> everywhere = new ArrayList<>();
    for (long i = 0; i < WanCodec.MAX_DIVERGED_RANGES + 10; i++) {
      everywhere.add(new long[] {i * 2 * DivergedHistory.COARSE, 4096}); // every other MiB: too many even rounded
    }
    assertThat(DivergedHistory.coalesce(everywhere, 1L << 40)).containsExactly(new Range(0, 1L << 40));
  }

  @Test
  void rangesEndAtTheVolumeEnd() {
    assertThat(DivergedHistory.coalesce(List.of(new long[] {SIZE - 4096, 4096}), SIZE)).containsExactly(new Range(SIZE - 4096, 4096));
  }
}
