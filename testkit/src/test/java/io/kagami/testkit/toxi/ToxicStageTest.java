package io.kagami.testkit.toxi;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.testkit.toxi.StreamItem.Data;
import io.kagami.testkit.toxi.StreamItem.End;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Toxic timing rules, driven by hand with a made-up clock (no sockets, no waiting): each stage is
 * advanced to chosen instants and what it released is checked exactly.
 */
class ToxicStageTest {
  private static final long MS = 1_000_000L;

  private static ToxicSpec spec(ToxicType type, Map<String, Long> attributes) {
    return new ToxicSpec(type.wireName(), type, StreamDirection.DOWNSTREAM, 1f, attributes);
  }

  private static Data data(int length, long atNanos) {
    return new Data(new byte[length], atNanos);
  }

  /** Everything the stage releases at {@code now} (downstream has unlimited room). */
  private static List<StreamItem> advance(ToxicStage stage, long now) {
    ArrayDeque<StreamItem> out = new ArrayDeque<>();
    while (stage.advance(now, out, Integer.MAX_VALUE)) {
      // keep going until nothing more is due
    }
    return new ArrayList<>(out);
  }

  private static List<Integer> sizes(List<StreamItem> items) {
    return items.stream().map(i -> i instanceof Data d ? d.bytes().length : -1).toList();
  }

  @Test
  void bandwidthReleasesPiecesOfOneHundredMillisecondsAtTheRate() {
    ToxicStage stage =
        ToxicStage.create(spec(ToxicType.BANDWIDTH, Map.of("rate", 10L)), new Random(1), 0);
    stage.input.add(
        data(2_500, 0)); // 10 KB/s: 1000-byte pieces every 100 ms, then 500 bytes in 50 ms

    assertThat(advance(stage, 99 * MS)).isEmpty();
    assertThat(sizes(advance(stage, 100 * MS))).containsExactly(1_000);
    assertThat(sizes(advance(stage, 199 * MS))).isEmpty();
    assertThat(sizes(advance(stage, 200 * MS))).containsExactly(1_000);
    assertThat(sizes(advance(stage, 249 * MS))).isEmpty();
    assertThat(sizes(advance(stage, 250 * MS))).containsExactly(500);
  }

  @Test
  void latencyCountsFromEachChunksArrivalSoChunksDoNotQueueBehindEachOther() {
    ToxicStage stage =
        ToxicStage.create(
            spec(ToxicType.LATENCY, Map.of("latency", 100L, "jitter", 0L)), new Random(1), 0);
    stage.input.add(data(1, 0));
    stage.input.add(data(2, 10 * MS));

    assertThat(advance(stage, 99 * MS)).isEmpty();
    assertThat(sizes(advance(stage, 100 * MS))).containsExactly(1);
    assertThat(sizes(advance(stage, 110 * MS))).containsExactly(2);
  }

  @Test
  void latencyJitterStaysWithinPlusOrMinusJitter() {
    ToxicStage stage =
        ToxicStage.create(
            spec(ToxicType.LATENCY, Map.of("latency", 100L, "jitter", 30L)), new Random(5), 0);
    long now = 0;
    for (int i = 0; i < 200; i++) {
      long arrival = now;
      stage.input.add(data(1, arrival));
      assertThat(advance(stage, arrival + 70 * MS - 1))
          .as("chunk %d released before latency - jitter", i)
          .isEmpty();
      List<StreamItem> released = advance(stage, arrival + 130 * MS);
      assertThat(released).as("chunk %d not released by latency + jitter", i).hasSize(1);
      now = arrival + 130 * MS;
    }
  }

  @Test
  void removingLatencyHandsOnWhatItHeld() {
    ToxicStage stage =
        ToxicStage.create(
            spec(ToxicType.LATENCY, Map.of("latency", 10_000L, "jitter", 0L)), new Random(1), 0);
    stage.input.add(data(3, 0));
    stage.input.add(data(4, 0));
    assertThat(advance(stage, 5 * MS)).isEmpty();

    assertThat(sizes(stage.drainForRemoval())).containsExactly(3, 4);
  }

  @Test
  void slicerCutsEveryByteIntoPiecesOfTheConfiguredSizeAndIsReproducibleFromItsSeed() {
    Map<String, Long> attributes = Map.of("average_size", 100L, "size_variation", 40L, "delay", 0L);
    List<Integer> first = sizes(slice(attributes, 7, 10_000));
    List<Integer> again = sizes(slice(attributes, 7, 10_000));

    assertThat(first.stream().mapToInt(Integer::intValue).sum()).isEqualTo(10_000);
    assertThat(first).allSatisfy(size -> assertThat(size).isBetween(1, 140));
    assertThat(first.size()).isGreaterThan(10_000 / 140);
    assertThat(again).as("same seed, same slices").isEqualTo(first);
  }

  private static List<StreamItem> slice(Map<String, Long> attributes, long seed, int length) {
    ToxicStage stage = ToxicStage.create(spec(ToxicType.SLICER, attributes), new Random(seed), 0);
    stage.input.add(data(length, 0));
    return advance(stage, 0);
  }

  @Test
  void slicerSpacesPiecesByItsDelay() {
    ToxicStage stage =
        ToxicStage.create(
            spec(
                ToxicType.SLICER,
                Map.of("average_size", 10L, "size_variation", 0L, "delay", 1_000L)),
            new Random(1),
            0);
    stage.input.add(data(40, 0));

    assertThat(sizes(advance(stage, 0))).containsExactly(10);
    assertThat(sizes(advance(stage, MS - 1))).isEmpty();
    assertThat(sizes(advance(stage, MS))).containsExactly(10);
    assertThat(sizes(advance(stage, 3 * MS))).containsExactly(10);
  }

  @Test
  void limitDataCountsAcrossUpdatesAndClosesAtTheLimit() {
    ToxicStage stage =
        ToxicStage.create(spec(ToxicType.LIMIT_DATA, Map.of("bytes", 100L)), new Random(1), 0);
    stage.input.add(data(60, 0));
    assertThat(sizes(advance(stage, 0))).containsExactly(60);

    stage.reconfigure(spec(ToxicType.LIMIT_DATA, Map.of("bytes", 150L)), true, 0);
    stage.input.add(data(200, 0));

    List<StreamItem> out = advance(stage, 0);
    assertThat(sizes(out.subList(0, 1))).containsExactly(90);
    assertThat(out.get(1)).isEqualTo(End.CLOSE);
  }

  @Test
  void timeoutDropsDataClosesAtTheTimeoutAndClosesWhenRemoved() {
    ToxicStage timed =
        ToxicStage.create(spec(ToxicType.TIMEOUT, Map.of("timeout", 50L)), new Random(1), 0);
    timed.input.add(data(10, 0));
    assertThat(advance(timed, 49 * MS)).isEmpty();
    assertThat(advance(timed, 50 * MS)).containsExactly(End.CLOSE);

    ToxicStage forever =
        ToxicStage.create(spec(ToxicType.TIMEOUT, Map.of("timeout", 0L)), new Random(1), 0);
    forever.input.add(data(10, 0));
    assertThat(advance(forever, 3_600_000 * MS)).isEmpty();
    assertThat(forever.drainForRemoval()).containsExactly(End.CLOSE);
  }

  @Test
  void resetPeerResetsTimeoutAfterTheFirstData() {
    ToxicStage stage =
        ToxicStage.create(spec(ToxicType.RESET_PEER, Map.of("timeout", 20L)), new Random(1), 0);
    assertThat(advance(stage, 1_000 * MS)).as("nothing happens before data flows").isEmpty();

    stage.input.add(data(5, 1_000 * MS));
    assertThat(advance(stage, 1_000 * MS)).isEmpty();
    assertThat(advance(stage, 1_019 * MS)).isEmpty();
    assertThat(advance(stage, 1_020 * MS)).containsExactly(End.RESET);
  }

  @Test
  void slowCloseHoldsOnlyTheEndOfTheStream() {
    ToxicStage stage =
        ToxicStage.create(spec(ToxicType.SLOW_CLOSE, Map.of("delay", 300L)), new Random(1), 0);
    stage.input.add(data(7, 0));
    assertThat(sizes(advance(stage, 0))).containsExactly(7);

    stage.input.add(End.CLOSE);
    assertThat(advance(stage, 10 * MS)).isEmpty();
    assertThat(advance(stage, 309 * MS)).isEmpty();
    assertThat(advance(stage, 310 * MS)).containsExactly(End.CLOSE);
  }

  @Test
  void zeroToxicityPassesEverythingThrough() {
    ToxicSpec never =
        new ToxicSpec(
            "never",
            ToxicType.LATENCY,
            StreamDirection.DOWNSTREAM,
            0f,
            Map.of("latency", 10_000L, "jitter", 0L));
    ToxicStage stage = ToxicStage.create(never, new Random(1), 0);
    stage.input.add(data(8, 0));

    assertThat(sizes(advance(stage, 0))).containsExactly(8);
  }
}
