package io.kagami.bench.jmh;

import io.kagami.clock.SystemTime;
import io.kagami.journal.Compression;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.kagami.journal.JournalStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
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
 * The journal's append path as the primary drives it: 4 KiB writes already encoded (as the NBD
 * server hands them over), appended by several writer threads at once so the group committer
 * batches them, each writer waiting for its own acknowledgement (queue depth 1 per thread, 4
 * threads: QD4). {@code sync=true} is a FUA write: the future completes only after the WAL is
 * synced; {@code sync=false} is the async mode's durability (committed to the local journal).
 *
 * <p>The journal lives in a temporary directory (set {@code java.io.tmpdir} to measure another
 * disk) and is trimmed after every iteration, so a long run does not fill the disk.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
@Threads(4)
public class JournalAppendBench {
  @Param({"false", "true"})
  public boolean sync;

  @Param({"4096"})
  public int writeBytes;

  private Path directory;
  private Journal journal;
  private JournalStream stream;
  private byte[][] records;

  @Setup(Level.Trial)
  public void open() throws IOException {
    directory = Files.createTempDirectory("kagami-jmh-journal");
    journal = Journal.open(JournalConfig.at(directory), SystemTime.WALL);
    stream = journal.stream("vol0");
    SplittableRandom rnd = new SplittableRandom(7);
    records = new byte[256][];
    byte[] data = new byte[writeBytes];
    for (int i = 0; i < records.length; i++) {
      rnd.nextBytes(data);
      records[i] = Compression.encodeWrite((long) i * writeBytes, ByteBuffer.wrap(data), false);
    }
  }

  @TearDown(Level.Iteration)
  public void trim() {
    stream.trimThrough(stream.lastSeq());
  }

  @TearDown(Level.Trial)
  public void close() throws IOException {
    journal.close();
    try (Stream<Path> files = Files.walk(directory)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** One acknowledged write; its record is one of 256 prepared ones (the bytes do not matter). */
  @Benchmark
  public long append(WriterIndex writer) {
    byte[] record = records[writer.next()];
    return stream.appendEncoded(record, sync, seq -> {}).join();
  }

  /** Each writer thread's round-robin position in the prepared records. */
  @State(Scope.Thread)
  public static class WriterIndex {
    private int i;

    int next() {
      i = (i + 1) & 255;
      return i;
    }
  }
}
