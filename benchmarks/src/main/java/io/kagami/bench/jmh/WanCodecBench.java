package io.kagami.bench.jmh;

import io.kagami.journal.Compression;
import io.kagami.journal.JournalEntry;
import io.kagami.wan.frame.WanCodec;
import io.kagami.wan.frame.WanMessage;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The WAN codec on a BATCH frame as the shipper sends it: {@code entries} journal records of 4 KiB
 * each, incompressible ({@code data=random}) or 2:1 compressible ({@code data=half}), encoded into
 * a pooled buffer (the shipper's thread) and decoded from one (the receiver's event loop).
 * Throughput is in frames per second; multiply by {@code entries × 4 KiB} for bytes.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(1)
public class WanCodecBench {
  @Param({"64"})
  public int entries;

  @Param({"random", "half"})
  public String data;

  private WanMessage.Batch batch;
  private ByteBuf encoded;

  @Setup(Level.Trial)
  public void prepare() {
    SplittableRandom rnd = new SplittableRandom(11);
    List<JournalEntry> list = new ArrayList<>(entries);
    byte[] bytes = new byte[4096];
    for (int i = 0; i < entries; i++) {
      rnd.nextBytes(bytes);
      if (data.equals("half")) {
        // Half of each write zero: LZ4 halves it, as on a typical file system's blocks.
        java.util.Arrays.fill(bytes, 2048, 4096, (byte) 0);
      }
      list.add(
          new JournalEntry(
              1 + i, Compression.encodeWrite((long) i * 4096, ByteBuffer.wrap(bytes), true)));
    }
    batch = new WanMessage.Batch("vol0", list);
    encoded = WanCodec.encode(PooledByteBufAllocator.DEFAULT, batch);
  }

  @TearDown(Level.Trial)
  public void release() {
    encoded.release();
  }

  /** Encodes the batch, length prefix included, and frees the buffer. */
  @Benchmark
  public int encode() {
    ByteBuf out = WanCodec.encode(PooledByteBufAllocator.DEFAULT, batch);
    int n = out.readableBytes();
    out.release();
    return n;
  }

  /** Decodes the frame body (after the 4-byte length prefix), as the receiver's decoder does. */
  @Benchmark
  public WanMessage decode() {
    ByteBuf frame = encoded.duplicate();
    frame.skipBytes(Integer.BYTES);
    return WanCodec.decodeFrame(frame, 64 << 20);
  }
}
