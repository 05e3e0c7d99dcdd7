package io.kagami.wan.ship;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.journal.JournalEntry;
import io.kagami.wan.frame.ByteCounter;
import io.kagami.wan.frame.WanMessage;
import io.kagami.wan.testing.Sites;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.file.Path;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A volume's resync pass driven by hand, as the agent's duty cycle would drive it, against an
 * embedded channel (no socket, no thread): the frames it writes, and what it reports durable.
 */
class RegionCopierTest {
  private static final int REGION = 4096;
  private static final long BASE = 7;

  @TempDir Path dir;
  private EmbeddedChannel ch;
  private ShipperConfig config;
  private WirePacer pacer;

  @BeforeEach
  void setUp() {
    ch = new EmbeddedChannel();
    config = new Sites(dir).shipper(7400);
    pacer = new WirePacer(new ByteCounter(), () -> 0L, 0);
  }

  @AfterEach
  void tearDown() {
    ch.finishAndReleaseAll();
  }

  /** Regions of 4 KiB; each one's content is its index + 1, so none is all zeroes. */
  private static final class Regions implements ResyncSource {
    final TreeSet<Long> dirty = new TreeSet<>();
    final List<Long> durable = new ArrayList<>();
    final boolean comparing;

    Regions(boolean comparing, long... marked) {
      this.comparing = comparing;
      for (long r : marked) {
        dirty.add(r);
      }
    }

    @Override
    public boolean needed() {
      return !dirty.isEmpty();
    }

    @Override
    public void standbyResumesAt(long durableSeq) {}

    @Override
    public long begin() {
      return BASE;
    }

    @Override
    public boolean comparing() {
      return comparing;
    }

    @Override
    public long nextDirty(long from) {
      Long r = dirty.ceiling(from);
      return r == null ? -1 : r;
    }

    @Override
    public long offsetOf(long region) {
      return region * REGION;
    }

    @Override
    public long regionAt(long offset) {
      return offset / REGION;
    }

    @Override
    public int lengthOf(long region) {
      return REGION;
    }

    @Override
    public byte[] read(long region) {
      byte[] b = new byte[REGION];
      Arrays.fill(b, (byte) (region + 1));
      return b;
    }

    @Override
    public void durable(long region) {
      dirty.remove(region);
      durable.add(region);
    }

    @Override
    public long end() {
      return BASE;
    }
  }

  private static final class Volume implements ShipSource {
    final Regions regions;

    Volume(Regions regions) {
      this.regions = regions;
    }

    @Override
    public String volume() {
      return "vol0";
    }

    @Override
    public long sizeBytes() {
      return 16L * REGION;
    }

    @Override
    public long lastSeq() {
      return BASE;
    }

    @Override
    public List<JournalEntry> read(long fromSeq, int maxBytes) {
      return List.of();
    }

    @Override
    public void peerDurable(long seq) {}

    @Override
    public void onAppend(Runnable wakeup) {}

    @Override
    public ResyncSource resync() {
      return regions;
    }
  }

  private VolumeStream stream(Regions regions) {
    VolumeStream v =
        new VolumeStream(
            new Volume(regions),
            () -> 0L,
            new LinkFailures(InstantSource.fixed(Instant.EPOCH), "hiroshima", "standby:7400"));
    v.resume(0);
    return v;
  }

  private List<WanMessage> written() {
    List<WanMessage> out = new ArrayList<>();
    Object m;
    while ((m = ch.readOutbound()) != null) {
      out.add((WanMessage) m);
    }
    return out;
  }

  @Test
  void aComparedRegionTheStandbyWantsStaysMarkedUntilItsDataIsAcknowledged() {
    Regions regions = new Regions(true, 0, 1, 2);
    VolumeStream v = stream(regions);
    RegionCopier copier = v.copier;

    copier.pump(ch, regions, pacer, config, "hiroshima");
    List<WanMessage> first = written();
    assertThat(first.getFirst()).isEqualTo(new WanMessage.Resync("vol0", BASE));
    assertThat(first.subList(1, 4))
        .allSatisfy(m -> assertThat(m).isInstanceOf(WanMessage.RegionSum.class));
    assertThat(first.subList(1, 4).stream().map(m -> ((WanMessage.RegionSum) m).offset()))
        .containsExactly(0L, (long) REGION, 2L * REGION);
    assertThat(first.getLast())
        .as("all compared: a heartbeat asks for the acknowledgements")
        .isInstanceOf(WanMessage.Heartbeat.class);
    assertThat(v.lastSent).as("history continues from the base").isEqualTo(BASE);

    // The standby wants region 1's data, then says it holds the three checksums' regions.
    copier.requested(REGION);
    assertThat(v.window.regionsDurable(3)).isTrue();
    copier.reportDurable(regions);
    assertThat(regions.durable)
        .as("regions reported durable after the first acknowledgement")
        .containsExactly(0L, 2L);

    copier.pump(ch, regions, pacer, config, "hiroshima");
    List<WanMessage> second = written();
    WanMessage.Region data = (WanMessage.Region) second.getFirst();
    assertThat(data.offset()).isEqualTo(REGION);
    assertThat(data.data())
        .as("the wanted region travels with its data")
        .isEqualTo(regions.read(1));
    assertThat(copier.holdsHistory(regions)).as("a pass with a region in flight").isTrue();
    assertThat(second)
        .as("no RESYNC_END while the wanted data is unacknowledged")
        .noneMatch(m -> m instanceof WanMessage.ResyncEnd);

    assertThat(v.window.regionsDurable(4)).isTrue();
    copier.reportDurable(regions);
    assertThat(regions.durable).containsExactly(0L, 2L, 1L);

    copier.pump(ch, regions, pacer, config, "hiroshima");
    assertThat(written()).containsExactly(new WanMessage.ResyncEnd("vol0", BASE));
    assertThat(copier.holdsHistory(regions)).as("the pass ended and nothing is marked").isFalse();
  }

  @Test
  void aFullWindowStopsTheCopyAndAsksForAcknowledgementsOnce() {
    Regions regions = new Regions(false, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    VolumeStream v = stream(regions);
    config = config.withBatching(4096, config.maxBatchDelay(), 4 * REGION);

    v.copier.pump(ch, regions, pacer, config, "hiroshima");
    List<WanMessage> out = written();
    assertThat(out.stream().filter(m -> m instanceof WanMessage.Region))
        .as("regions sent into a window of four")
        .hasSize(4);
    assertThat(out.getLast()).isInstanceOf(WanMessage.Heartbeat.class);

    v.copier.pump(ch, regions, pacer, config, "hiroshima");
    assertThat(written()).as("still full: nothing more, not even a second heartbeat").isEmpty();

    assertThat(v.window.regionsDurable(4)).isTrue();
    v.copier.reportDurable(regions);
    assertThat(regions.durable).containsExactly(0L, 1L, 2L, 3L);
    v.copier.pump(ch, regions, pacer, config, "hiroshima");
    assertThat(
            written().stream()
                .filter(m -> m instanceof WanMessage.Region)
                .map(m -> ((WanMessage.Region) m).offset()))
        .containsExactly(4L * REGION, 5L * REGION, 6L * REGION, 7L * REGION);
  }
}
