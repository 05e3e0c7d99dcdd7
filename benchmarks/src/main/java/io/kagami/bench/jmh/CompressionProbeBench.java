package io.kagami.bench.jmh;

import io.kagami.journal.Compression;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * Encoding one NBD write into a journal record, as the primary does for every write: with the
 * compression probe ({@code probe=true}: try LZ4 on a sample, compress when it pays, back off on
 * incompressible streams) against never compressing ({@code probe=false}: one copy). On random data
 * the probe should cost little once it has backed off; on half-zero data it pays for itself on the
 * wire, not here.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
public class CompressionProbeBench {
  @Param({"4096", "1048576"})
  public int writeBytes;

  @Param({"random", "half"})
  public String data;

  @Param({"true", "false"})
  public boolean probe;

  private ByteBuffer write;
  private Compression.Probe memory;
  private long offset;

  @Setup(Level.Trial)
  public void prepare() {
    byte[] bytes = new byte[writeBytes];
    new SplittableRandom(3).nextBytes(bytes);
    if (data.equals("half")) {
      Arrays.fill(bytes, writeBytes / 2, writeBytes, (byte) 0);
    }
    write = ByteBuffer.wrap(bytes);
    memory = probe ? new Compression.Probe() : null;
  }

  /** One write's record, encoded as the NBD server's write path does it. */
  @Benchmark
  public byte[] encode() {
    offset += writeBytes;
    return Compression.encodeWrite(offset, write, memory);
  }
}
