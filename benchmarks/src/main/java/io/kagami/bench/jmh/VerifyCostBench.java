package io.kagami.bench.jmh;

import io.kagami.clock.SystemTime;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.replicator.verify.VerifyPacer;
import io.kagami.replicator.volume.FileVolume;
import io.kagami.replicator.volume.PrimaryVolume;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What in-stream verification costs the primary's write path: 4 KiB random writes into a 256 MiB
 * {@link PrimaryVolume} (journal append, then the volume file written in journal order on the
 * after-commit thread, where verification checksums its regions), 4 writer threads each waiting for
 * its acknowledgement (QD4), with verification off ({@code verifyMiBps=0}) and at the default and a
 * high rate, in one run: compare the rows (goal: at most 5 % fewer writes per second at the default
 * rate). The pacer is driven every 100 ms, as the site's housekeeping does once a second.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 4, time = 5)
@Fork(1)
@Threads(4)
public class VerifyCostBench {
  private static final long SIZE = 256L << 20;

  @Param({"0", "20", "100"})
  public int verifyMiBps;

  private Path directory;
  private Journal journal;
  private FileVolume file;
  private PrimaryVolume volume;
  private ExecutorService reads;
  private ScheduledExecutorService pacing;
  private byte[][] data;

  @Setup(Level.Trial)
  public void open() throws IOException {
    directory = Files.createTempDirectory("kagami-jmh-verify");
    journal = Journal.open(JournalConfig.at(directory.resolve("journal")), SystemTime.WALL);
    file = FileVolume.openOrCreate(directory.resolve("vol0.img"), SIZE);
    reads = Executors.newSingleThreadExecutor();
    volume = new PrimaryVolume("vol0", file, journal.stream("vol0"), false, reads);
    SplittableRandom rnd = new SplittableRandom(7);
    data = new byte[256][4096];
    for (byte[] d : data) {
      rnd.nextBytes(d);
    }
    pacing = Executors.newSingleThreadScheduledExecutor();
    if (verifyMiBps > 0) {
      VerifyPacer pacer =
          new VerifyPacer(SIZE, (long) verifyMiBps << 20, 20L << 20, SystemTime.NANO);
      pacing.scheduleAtFixedRate(
          () -> pacer.doWork(volume::verify), 100, 100, TimeUnit.MILLISECONDS);
    }
  }

  @TearDown(Level.Iteration)
  public void trim() {
    var stream = journal.stream("vol0");
    stream.trimThrough(volume.appliedSeq());
  }

  @TearDown(Level.Trial)
  public void close() throws IOException {
    pacing.shutdownNow();
    reads.shutdownNow();
    journal.close();
    file.close();
    try (Stream<Path> files = Files.walk(directory)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** One acknowledged 4 KiB write at a random aligned offset. */
  @Benchmark
  public void write(Writer w) {
    volume.write(w.offset(), Unpooled.wrappedBuffer(data[w.i & 255]), false).join();
  }

  /** Each writer thread's own random offsets. */
  @State(Scope.Thread)
  public static class Writer {
    private final SplittableRandom rnd = new SplittableRandom();
    int i;

    long offset() {
      i++;
      return (long) rnd.nextInt((int) (SIZE / 4096)) * 4096;
    }
  }
}
