package io.kagami.replicator.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.clock.SystemTime;
import io.kagami.journal.Journal;
import io.kagami.journal.JournalConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A write is acknowledged once the journal holds it, before the volume file does; reads must still
 * see every acknowledged write, and a volume file that cannot be written fails the volume closed.
 */
class PrimaryVolumeTest {
  private static final long SIZE = 64L << 20;

  @TempDir Path dir;
  private Journal journal;
  private FileVolume file;
  private ExecutorService reads;
  private PrimaryVolume device;

  @BeforeEach
  void open() {
    journal = Journal.open(JournalConfig.at(dir.resolve("journal")), SystemTime.WALL);
    file = FileVolume.openOrCreate(dir.resolve("vol0.img"), SIZE);
    reads = Executors.newSingleThreadExecutor();
    device = new PrimaryVolume("vol0", file, journal.stream("vol0"), false, reads);
  }

  @AfterEach
  void close() throws Exception {
    journal.close();
    file.close();
    reads.shutdownNow();
  }

  private static byte[] block(Random rnd, int length) {
    byte[] b = new byte[length];
    rnd.nextBytes(b);
    return b;
  }

  private byte[] read(long offset, int length) throws Exception {
    ByteBuf buf = device.read(offset, length, ByteBufAllocator.DEFAULT).get(10, TimeUnit.SECONDS);
    try {
      byte[] out = new byte[length];
      buf.readBytes(out);
      return out;
    } finally {
      buf.release();
    }
  }

  @Test
  void aReadRightAfterAnAcknowledgedWriteSeesIt() throws Exception {
    Random rnd = new Random(7);
    for (int i = 0; i < 300; i++) {
      long offset = (long) rnd.nextInt((int) (SIZE / 4096)) * 4096;
      int length = (1 + rnd.nextInt(64)) * 4096;
      offset = Math.min(offset, SIZE - length);
      byte[] data = block(rnd, length);
      device.write(offset, Unpooled.wrappedBuffer(data), false).get(10, TimeUnit.SECONDS);
      // No waiting in between: the volume file write may still be queued behind the ack.
      int differs = java.util.Arrays.mismatch(read(offset, length), data);
      assertThat(differs)
          .as(
              "read #%d of 0x%x right after its write was acknowledged differs at byte %d",
              i, offset, differs)
          .isEqualTo(-1);
    }
  }

  /** {@code data} split over several buffers, as a large WRITE arrives from the NBD decoder. */
  private static ByteBuf pieces(byte[] data, int piece) {
    io.netty.buffer.CompositeByteBuf c = Unpooled.compositeBuffer();
    for (int at = 0; at < data.length; at += piece) {
      c.addComponent(true, Unpooled.copiedBuffer(data, at, Math.min(piece, data.length - at)));
    }
    return c;
  }

  @Test
  void aWriteSpreadOverSeveralBuffersIsJournaledAndWrittenWhole() throws Exception {
    Random rnd = new Random(5);
    byte[] noise = block(rnd, 1 << 20);
    byte[] text =
        "a compressible line of text\n"
            .repeat(40_000)
            .substring(0, 1 << 20)
            .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    PrimaryVolume compressing =
        new PrimaryVolume("vol1", file, journal.stream("vol1"), true, reads);
    for (PrimaryVolume d : List.of(device, compressing)) {
      for (byte[] data :
          List.of(text, noise)) { // text first: after a failed probe the next write is not probed
        long seq = d.stream().lastSeq();
        d.write(0, pieces(data, 65_000), false).get(10, TimeUnit.SECONDS);
        assertThat(d.awaitVolumeWrites(java.time.Duration.ofSeconds(10))).isTrue();
        byte[] back = new byte[data.length];
        file.read(0, java.nio.ByteBuffer.wrap(back));
        assertThat(java.util.Arrays.mismatch(back, data))
            .as("volume file after a write in pieces")
            .isEqualTo(-1);
        io.kagami.journal.JournalEntry e = d.stream().read(seq + 1, 1).getFirst();
        assertThat(io.kagami.journal.Compression.data(e.record()))
            .as("journal record of a write in pieces")
            .isEqualTo(data);
        assertThat(e.record().codec())
            .isEqualTo(
                d == compressing && data == text
                    ? io.kagami.journal.JournalRecord.Codec.LZ4
                    : io.kagami.journal.JournalRecord.Codec.NONE);
      }
    }
  }

  @Test
  void readsWaitForEveryWriteAcknowledgedBeforeThem() throws Exception {
    Random rnd = new Random(11);
    List<CompletableFuture<Void>> writes = new ArrayList<>();
    byte[][] expected = new byte[64][];
    for (int i = 0; i < 64; i++) {
      expected[i] = block(rnd, 64 << 10);
      writes.add(device.write(i * (64L << 10), Unpooled.wrappedBuffer(expected[i]), false));
    }
    CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS);
    assertThat(device.awaitVolumeWrites(java.time.Duration.ofSeconds(10)))
        .as("volume file caught up with 64 acknowledged writes")
        .isTrue();
    assertThat(device.appliedSeq()).isEqualTo(64);
    byte[] all = read(0, 64 * (64 << 10));
    for (int i = 0; i < 64; i++) {
      byte[] got = java.util.Arrays.copyOfRange(all, i * (64 << 10), (i + 1) * (64 << 10));
      int differs = java.util.Arrays.mismatch(got, expected[i]);
      assertThat(differs)
          .as(
              "block %d of a read issued after all 64 writes were acknowledged differs at byte %d",
              i, differs)
          .isEqualTo(-1);
    }
  }

  @Test
  void aVolumeFileThatCannotBeWrittenFailsTheVolumeClosed() throws Exception {
    file.close(); // every later volume write fails
    byte[] data = block(new Random(3), 4096);
    // The journal holds the write, so it is acknowledged; the volume file is now behind it.
    device.write(0, Unpooled.wrappedBuffer(data), false).get(10, TimeUnit.SECONDS);
    assertThatThrownBy(
            () -> device.read(0, 4096, ByteBufAllocator.DEFAULT).get(10, TimeUnit.SECONDS))
        .as("a read once the volume file could not be written")
        .isInstanceOf(ExecutionException.class)
        .cause()
        .isInstanceOf(DeviceException.class)
        .hasMessageContaining("writing the volume file failed");
    assertThatThrownBy(
            () -> device.write(4096, Unpooled.wrappedBuffer(data), false).get(10, TimeUnit.SECONDS))
        .as("a write once the volume file could not be written")
        .cause()
        .isInstanceOf(DeviceException.class)
        .satisfies(e -> assertThat(((DeviceException) e).error()).isEqualTo(DeviceError.EIO));
  }
}
