package io.kagami.wan;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.wan.receive.Receiver;
import io.kagami.wan.ship.LinkSnapshot;
import io.kagami.wan.ship.ShipSource;
import io.kagami.wan.ship.Shipper;
import io.kagami.wan.testing.Catalog;
import io.kagami.wan.testing.LogCapture;
import io.kagami.wan.testing.MemorySink;
import io.kagami.wan.testing.MemorySource;
import io.kagami.wan.testing.Records;
import io.kagami.wan.testing.Sites;
import io.kagami.wan.throttle.TokenBucket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bandwidth cap on a real TLS link over loopback, which on its own moves these few megabytes in
 * tens of milliseconds: whatever slows it to the cap is the shipper's token bucket. Bytes are
 * counted on the shipper's socket side (after compression and TLS). The data is random, so batch
 * compression does not change the count.
 */
class ThrottledLinkTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final long SIZE = 1L << 30;
  private static final int ENTRY = 1000;

  @TempDir Path dir;
  private Sites sites;

  @BeforeEach
  void sites() {
    sites = new Sites(dir);
  }

  private static void await(CompletableFuture<?> f, String what) throws Exception {
    try {
      f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError(what + " did not happen within " + WAIT, e);
    }
  }

  @Test
  void aBackloggedLinkSendsAtTheCapNotFaster() throws Exception {
    long rate = 2_000_000;
    long burst = TokenBucket.defaultBurst(rate);
    long frame = burst + 64 * 1024; // a capped batch is one burst of entries, plus framing and TLS
    MemorySource vol0 = new MemorySource("vol0", SIZE);
    vol0.append(
        Records.fixed(new Random(11), 3000, ENTRY)); // ~3.1 MB of backlog: ~1.5 s at the cap
    try (MemorySink sink = new MemorySink("vol0", SIZE);
        Receiver receiver = new Receiver(sites.receiver(), new Catalog().add("tokyo", sink))) {
      receiver.start();
      try (Shipper shipper =
          new Shipper(
              sites.shipper(receiver.port()).withBandwidth(rate), List.<ShipSource>of(vol0))) {
        shipper.start();
        await(sink.awaitDurable(1), "the first batch on the standby");
        long t0 = SystemTime.NANO.nanoTime();
        long w0 = shipper.snapshot().wireBytes();
        await(sink.awaitDurable(3000), "the whole backlog on the standby");
        long t1 = SystemTime.NANO.nanoTime();
        LinkSnapshot s = shipper.snapshot();
        long bytes = s.wireBytes() - w0;
        double seconds = (t1 - t0) / 1e9;
        assertThat(bytes)
            .as("wire bytes in %.3f s at a cap of %d B/s", seconds, rate)
            .isLessThanOrEqualTo((long) (rate * seconds) + burst + 2 * frame);
        assertThat(bytes / seconds)
            .as("wire rate of a backlogged link capped at %d B/s", rate)
            .isGreaterThan(rate * 0.5);
        assertThat(s.bandwidthBytesPerSecond()).isEqualTo(rate);
        assertThat(s.wireSendRateBytesPerSecond())
            .as("recent send rate")
            .isPositive()
            .isLessThanOrEqualTo(rate + burst + 2.0 * frame);
      }
    }
  }

  @Test
  void raisingTheCapAtRunTimeSpeedsUpTheSameConnection() throws Exception {
    long slow = 500_000;
    MemorySource vol0 = new MemorySource("vol0", SIZE);
    vol0.append(Records.fixed(new Random(12), 2500, ENTRY)); // ~2.6 MB: over 5 s at the slow cap
    try (LogCapture log = new LogCapture(Shipper.class);
        MemorySink sink = new MemorySink("vol0", SIZE);
        Receiver receiver = new Receiver(sites.receiver(), new Catalog().add("tokyo", sink))) {
      receiver.start();
      try (Shipper shipper =
          new Shipper(
              sites.shipper(receiver.port()).withBandwidth(slow), List.<ShipSource>of(vol0))) {
        shipper.start();
        await(sink.awaitDurable(200), "the first 200 entries on the standby");
        long left = vol0.entries().size() - sink.lastDurableSeq();
        long t0 = SystemTime.NANO.nanoTime();
        shipper.setBandwidth(50_000_000);
        await(sink.awaitDurable(2500), "the rest of the backlog on the standby");
        double seconds = (SystemTime.NANO.nanoTime() - t0) / 1e9;
        double atSlowCap = left * (ENTRY + 28.0) / slow;
        assertThat(seconds)
            .as(
                "time for the last %d entries after raising the cap (%.1f s at the old cap)",
                left, atSlowCap)
            .isLessThan(atSlowCap / 2);
        assertThat(shipper.bandwidth()).isEqualTo(50_000_000);
        assertThat(log.count("up; resuming"))
            .as("connections made: the change needs no reconnect")
            .isEqualTo(1);
        assertThat(sink.duplicates()).isZero();

        shipper.setBandwidth(0);
        assertThat(shipper.snapshot().bandwidthBytesPerSecond()).as("0 = unlimited").isZero();
      }
    }
  }
}
