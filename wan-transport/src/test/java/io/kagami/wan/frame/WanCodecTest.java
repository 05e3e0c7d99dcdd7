package io.kagami.wan.frame;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.journal.JournalEntry;
import io.kagami.wan.testing.Records;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class WanCodecTest {
  private static final int MAX = 64 << 10;
  private static final long SEED = 20240611L;
  private EmbeddedChannel channel;

  @BeforeEach
  void open() {
    channel = new EmbeddedChannel(new WanCodec(MAX));
  }

  @AfterEach
  void close() {
    channel.finishAndReleaseAll();
  }

  /**
   * Encodes through the channel, feeds the bytes back in, returns what the decoder made of them.
   */
  private WanMessage roundTrip(WanMessage m) {
    assertThat(channel.writeOutbound(m)).isTrue();
    ByteBuf wire = channel.readOutbound();
    assertThat(channel.writeInbound(wire)).isTrue();
    return channel.readInbound();
  }

  @Test
  void everyMessageSurvivesARoundTrip() {
    List<WanMessage> messages =
        List.of(
            new WanMessage.Hello(
                WanCodec.VERSION,
                "tokyo",
                List.of(
                    new WanMessage.VolumeOffer("vol0", 1L << 30),
                    new WanMessage.VolumeOffer("データ", 4096))),
            new WanMessage.Hello(WanCodec.VERSION, "tokyo", List.of()),
            new WanMessage.Hello(
                WanCodec.VERSION,
                "tokyo",
                List.of(
                    new WanMessage.VolumeOffer("vol0", 1L << 30, -7_000_000_000_000L, 42, 9000))),
            new WanMessage.Welcome(
                "hiroshima",
                List.of(new WanMessage.VolumeResume("vol0", 9000, Long.MIN_VALUE + 1))),
            new WanMessage.Welcome(
                "hiroshima",
                List.of(
                    new WanMessage.VolumeResume("vol0", 0),
                    new WanMessage.VolumeResume("データ", Long.MAX_VALUE))),
            new WanMessage.Refuse("volume vol9 is not configured on standby hiroshima"),
            new WanMessage.Ack("vol0", 123_456_789_012L),
            new WanMessage.Heartbeat(),
            new WanMessage.Heartbeat(
                List.of(
                    new WanMessage.VolumeHead("vol0", 1234, 5L << 20, 2500),
                    new WanMessage.VolumeHead("db", 0, 0, 0))),
            new WanMessage.Resync("vol0", 42),
            new WanMessage.Region("vol0", 1L << 40, 65536, null),
            new WanMessage.RegionsDurable("vol0", 7),
            new WanMessage.ResyncEnd("vol0", 99),
            new WanMessage.Welcome(
                "hiroshima",
                List.of(
                    new WanMessage.VolumeResume(
                        "vol0",
                        77,
                        5,
                        List.of(
                            new WanMessage.Range(0, 4096),
                            new WanMessage.Range(1L << 40, 1L << 20))))),
            new WanMessage.Handover(
                List.of(new WanMessage.VolumeEnd("vol0", 77), new WanMessage.VolumeEnd("データ", 0))),
            new WanMessage.HandedOver());
    for (WanMessage m : messages) {
      assertThat(roundTrip(m)).as("decoded %s", m).isEqualTo(m);
    }
  }

  @Test
  void regionsCarryTheirDataCompressedWhenThatShrinksIt() {
    byte[] noise = new byte[32 << 10];
    new java.util.Random(SEED).nextBytes(noise);
    byte[] text =
        "kagami mirrors blocks "
            .repeat(2000)
            .substring(0, 32 << 10)
            .getBytes(StandardCharsets.UTF_8);
    for (byte[] data : List.of(noise, text)) {
      assertThat(channel.writeOutbound(new WanMessage.Region("vol0", 4096, data.length, data)))
          .isTrue();
      ByteBuf wire = channel.readOutbound();
      int size = wire.readableBytes();
      assertThat(channel.writeInbound(wire)).isTrue();
      WanMessage.Region got = channel.readInbound();
      assertThat(got.data()).isEqualTo(data);
      assertThat(got.offset()).isEqualTo(4096);
      if (data == text) {
        assertThat(size).as("compressible region on the wire").isLessThan(data.length / 4);
      } else {
        assertThat(size).as("incompressible region sent as is").isGreaterThan(data.length);
      }
    }
  }

  @Test
  void rejectsMalformedRegions() {
    assertRejected(
        frame(
            WanCodec.REGION,
            b -> {
              str(b, "vol0");
              b.writeLong(0).writeByte(WanCodec.FLAG_LZ4 | WanCodec.FLAG_ZERO).writeInt(4096);
            }),
        "invalid flags 0x3");
  }

  @Test
  void rejectsARegionThatDoesNotCarryItsLength() {
    assertRejected(
        frame(
            WanCodec.REGION,
            b -> {
              str(b, "vol0");
              b.writeLong(0).writeByte(0).writeInt(4096).writeBytes(new byte[100]);
            }),
        "declares 4096 bytes but carries 100");
  }

  @Test
  void rejectsARegionWithACorruptLz4Block() {
    assertRejected(
        frame(
            WanCodec.REGION,
            b -> {
              str(b, "vol0");
              b.writeLong(0)
                  .writeByte(WanCodec.FLAG_LZ4)
                  .writeInt(1000)
                  .writeBytes(new byte[] {(byte) 0xf0, 1, 2, 3});
            }),
        "LZ4 block of 4 bytes is corrupt");
  }

  /**
   * Found by WanLz4FuzzTest: a frame of a few bytes declaring the largest frame a link accepts (64
   * MiB by default) as its uncompressed size made the decoder allocate all of it before finding the
   * block wanting. LZ4 expands at most 255 times, so such a frame is refused before anything is
   * allocated.
   */
  @Test
  void refusesAnLz4SizeItsBlockCannotReachBeforeAllocatingIt() {
    int max = io.kagami.wan.receive.ReceiverConfig.DEFAULT_MAX_FRAME_BYTES;
    ByteBuf batch = Unpooled.buffer().writeByte(WanCodec.BATCH);
    str(batch, "vol0");
    batch.writeByte(WanCodec.FLAG_LZ4).writeInt(max).writeBytes(new byte[] {0x10, 0, 0, 0});
    assertThatThrownBy(() -> WanCodec.decodeFrame(batch, max))
        .isInstanceOf(MalformedFrameException.class)
        .hasMessage(
            "BATCH of volume vol0: LZ4 block of 4 bytes cannot decompress to the declared "
                + max
                + " bytes (LZ4 expands at most 255 times)");
    ByteBuf region = Unpooled.buffer().writeByte(WanCodec.REGION);
    str(region, "vol0");
    region.writeLong(0).writeByte(WanCodec.FLAG_LZ4).writeInt(max);
    assertThatThrownBy(() -> WanCodec.decodeFrame(region, max))
        .isInstanceOf(MalformedFrameException.class)
        .hasMessage(
            "REGION of volume vol0 at offset 0: LZ4 block of 0 bytes cannot decompress to the"
                + " declared "
                + max
                + " bytes (LZ4 expands at most 255 times)");
  }

  @Test
  void rejectsAnEmptyRegion() {
    assertRejected(
        frame(
            WanCodec.REGION,
            b -> {
              str(b, "vol0");
              b.writeLong(0).writeByte(WanCodec.FLAG_ZERO).writeInt(0);
            }),
        "declares 0 bytes");
  }

  @Test
  void batchesCarryEntriesByteForByteCompressedWhenThatShrinksThem() {
    Random random = new Random(SEED);
    List<byte[]> records = Records.mixed(random, 40);
    List<JournalEntry> entries = new ArrayList<>();
    for (int i = 0; i < records.size(); i++) {
      entries.add(new JournalEntry(1000 + i, records.get(i)));
    }
    entries.add(new JournalEntry(1000 + records.size(), new byte[0]));
    WanMessage.Batch sent = new WanMessage.Batch("vol0", entries);
    channel.finishAndReleaseAll();
    channel = new EmbeddedChannel(new WanCodec(4 << 20));
    WanMessage.Batch got = (WanMessage.Batch) roundTrip(sent);
    assertThat(got.volume()).isEqualTo("vol0");
    assertThat(Records.difference("vol0", sent.entries(), got.entries()))
        .as("seed %s", SEED)
        .isNull();
  }

  @Test
  void compressesABatchOnlyWhenItGetsSmaller() {
    byte[] zeros = new byte[8192];
    byte[] noise = new byte[8192];
    new Random(SEED).nextBytes(noise);
    ByteBuf packed =
        WanCodec.encode(
            ByteBufAllocator.DEFAULT,
            new WanMessage.Batch("v", List.of(new JournalEntry(1, zeros))));
    ByteBuf plain =
        WanCodec.encode(
            ByteBufAllocator.DEFAULT,
            new WanMessage.Batch("v", List.of(new JournalEntry(1, noise))));
    try {
      int flagsAt = 4 + 1 + 2 + 1;
      assertThat(packed.getByte(flagsAt)).as("flags of a batch of zeros").isEqualTo((byte) 1);
      assertThat(packed.readableBytes()).isLessThan(1024);
      assertThat(plain.getByte(flagsAt)).as("flags of a batch of random bytes").isEqualTo((byte) 0);
      assertThat(plain.readableBytes()).isEqualTo(4 + 1 + 3 + 1 + 4 + 4 + 12 + 8192);
    } finally {
      packed.release();
      plain.release();
    }
  }

  @Test
  void aFrameArrivingByteByByteIsDecodedOnceComplete() {
    WanMessage m =
        new WanMessage.Welcome("hiroshima", List.of(new WanMessage.VolumeResume("vol0", 42)));
    ByteBuf wire = WanCodec.encode(ByteBufAllocator.DEFAULT, m);
    try {
      while (wire.readableBytes() > 1) {
        assertThat(channel.writeInbound(wire.readRetainedSlice(1))).isFalse();
      }
      assertThat(channel.writeInbound(wire.readRetainedSlice(1))).isTrue();
      assertThat((WanMessage) channel.readInbound()).isEqualTo(m);
    } finally {
      wire.release();
    }
  }

  // ---- malformed input: each is rejected with a message naming what was wrong ----

  private static byte[] frame(int type, Consumer<ByteBuf> body) {
    ByteBuf b = Unpooled.buffer();
    b.writeInt(0).writeByte(type);
    body.accept(b);
    b.setInt(0, b.readableBytes() - 4);
    byte[] out = new byte[b.readableBytes()];
    b.readBytes(out);
    return out;
  }

  private static void str(ByteBuf b, String s) {
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    b.writeShort(bytes.length).writeBytes(bytes);
  }

  private void assertRejected(byte[] bytes, String message) {
    assertThatThrownBy(() -> channel.writeInbound(Unpooled.wrappedBuffer(bytes)))
        .isInstanceOf(MalformedFrameException.class)
        .hasMessageContaining(message);
  }

  @Test
  void rejectsAHeartbeatWithANegativeHead() {
    ByteBuf body = Unpooled.buffer().writeByte(6).writeShort(1);
    str(body, "vol0");
    body.writeLong(5).writeLong(-1).writeLong(0);
    ByteBuf frame = Unpooled.buffer().writeInt(body.readableBytes()).writeBytes(body);
    assertRejected(ByteBufUtil.getBytes(frame), "unacknowledged bytes of volume vol0");
  }

  @Test
  void rejectsAHeartbeatWithTrailingBytes() {
    ByteBuf trailing = Unpooled.buffer().writeByte(6).writeShort(0).writeByte(7);
    ByteBuf frame2 = Unpooled.buffer().writeInt(trailing.readableBytes()).writeBytes(trailing);
    assertRejected(ByteBufUtil.getBytes(frame2), "HEARTBEAT has 1 trailing bytes");
  }

  @Test
  void rejectsAZeroLength() {
    assertRejected(new byte[] {0, 0, 0, 0, 6}, "frame length 0 is outside 1.." + MAX);
  }

  @Test
  void rejectsAFrameOverTheMaximumBeforeReadingIt() {
    assertRejected(new byte[] {0, 1, 0, 1, 4}, "frame length 65537 is outside 1.." + MAX);
  }

  @Test
  void readsTheLengthAsUnsigned() {
    assertRejected(
        new byte[] {(byte) 0xff, (byte) 0xff, (byte) 0xff, (byte) 0xff},
        "frame length 4294967295 is outside 1.." + MAX);
  }

  @Test
  void rejectsAnUnknownType() {
    assertRejected(frame(99, b -> {}), "unknown frame type 99");
  }

  @Test
  void rejectsATruncatedHello() {
    assertRejected(
        frame(
            WanCodec.HELLO,
            b ->
                b.writeInt(WanCodec.MAGIC)
                    .writeShort(WanCodec.VERSION)
                    .writeShort(5)
                    .writeBytes(new byte[] {'t', 'o'})),
        "HELLO is truncated: site id needs 5 bytes, 2 left");
  }

  @Test
  void rejectsAHelloOfAnotherProtocolVersion() {
    assertRejected(
        frame(
            WanCodec.HELLO,
            b -> b.writeInt(WanCodec.MAGIC).writeShort(1).writeBytes(new byte[] {1, 2, 3})),
        "protocol version 1 is not supported (this side speaks version " + WanCodec.VERSION + ")");
  }

  @Test
  void rejectsAHelloWithoutTheMagic() {
    assertRejected(
        frame(WanCodec.HELLO, b -> b.writeInt(0x47455420).writeShort(1)),
        "HELLO has magic 0x47455420, expected 0x4b474d49");
  }

  @Test
  void rejectsTrailingBytes() {
    assertRejected(
        frame(
            WanCodec.ACK,
            b -> {
              str(b, "vol0");
              b.writeLong(7).writeByte(1).writeByte(2);
            }),
        "ACK has 2 trailing bytes");
  }

  @Test
  void rejectsANegativeSequenceNumber() {
    assertRejected(
        frame(
            WanCodec.ACK,
            b -> {
              str(b, "vol0");
              b.writeLong(-1);
            }),
        "durable seq of volume vol0 is negative (-1)");
  }

  private static Consumer<ByteBuf> batch(int flags, long declared, Consumer<ByteBuf> entries) {
    return b -> {
      str(b, "vol0");
      b.writeByte(flags).writeInt((int) declared);
      entries.accept(b);
    };
  }

  @Test
  void rejectsBatchesThatDoNotAddUp() {
    assertRejected(
        frame(WanCodec.BATCH, batch(0, 100, e -> e.writeInt(1).writeLong(1).writeInt(0))),
        "BATCH of volume vol0 declares 100 bytes of entries but carries 16");
  }

  @Test
  void rejectsNonConsecutiveSequenceNumbers() {
    assertRejected(
        frame(
            WanCodec.BATCH,
            batch(0, 4 + 24, e -> e.writeInt(2).writeLong(5).writeInt(0).writeLong(7).writeInt(0))),
        "entry 2 has seq 7, expected 6");
  }

  @Test
  void rejectsAnEntryLongerThanItsBatch() {
    assertRejected(
        frame(
            WanCodec.BATCH,
            batch(
                0,
                4 + 12 + 3,
                e -> e.writeInt(1).writeLong(1).writeInt(1000).writeBytes(new byte[3]))),
        "BATCH of volume vol0 is truncated: entry 1's record needs 1000 bytes, 3 left");
  }

  @Test
  void rejectsUnknownBatchFlags() {
    assertRejected(
        frame(WanCodec.BATCH, batch(0x82, 16, e -> {})),
        "BATCH of volume vol0 has unknown flags 0x82");
  }

  @Test
  void rejectsACorruptLz4Block() {
    assertRejected(
        frame(
            WanCodec.BATCH,
            batch(1, 4096, e -> e.writeBytes(new byte[] {(byte) 0xf0, 1, 2, 3, 4, 5}))),
        "BATCH of volume vol0: LZ4 block");
  }

  @Test
  void rejectsAnLz4BlockOfAnotherSizeThanDeclared() {
    ByteBuf real =
        WanCodec.encode(
            ByteBufAllocator.DEFAULT,
            new WanMessage.Batch("vol0", List.of(new JournalEntry(1, new byte[4000]))));
    try {
      int declaredAt = 4 + 1 + 2 + 4 + 1;
      assertThat(real.getByte(declaredAt - 1)).isEqualTo((byte) 1);
      real.setInt(declaredAt, real.getInt(declaredAt) - 1);
      byte[] bytes = new byte[real.readableBytes()];
      real.readBytes(bytes);
      assertRejected(bytes, "BATCH of volume vol0: LZ4 block");
    } finally {
      real.release();
    }
  }

  @Test
  void rejectsAConnectionThatEndsInsideAFrame() {
    assertThat(channel.writeInbound(Unpooled.wrappedBuffer(new byte[] {0, 0, 0, 20, 1, 2, 3})))
        .isFalse();
    assertThatThrownBy(() -> channel.finish())
        .isInstanceOf(MalformedFrameException.class)
        .hasMessageContaining(
            "connection closed in the middle of a frame (3 of 20 bytes of a frame received)");
  }

  @Test
  void afterOneBadFrameEverythingElseIsDiscarded() {
    assertRejected(new byte[] {0, 0, 0, 0}, "frame length 0");
    ByteBuf good = WanCodec.encode(ByteBufAllocator.DEFAULT, new WanMessage.Heartbeat());
    assertThat(channel.writeInbound(good))
        .as("a valid frame after the bad one is not decoded")
        .isFalse();
  }

  @Test
  void aWelcomeWithAnEmptyDivergedRangeIsRejected() {
    assertRejected(
        frame(
            WanCodec.WELCOME,
            b -> {
              b.writeShort(1)
                  .writeByte('h')
                  .writeShort(1)
                  .writeShort(4)
                  .writeBytes("vol0".getBytes(StandardCharsets.UTF_8));
              b.writeLong(7).writeLong(1).writeInt(1).writeLong(4096).writeLong(0);
            }),
        "empty or overflowing diverged range of volume vol0 at offset 4096");
  }

  @Test
  void aWelcomeWithTooManyDivergedRangesIsRejected() {
    assertRejected(
        frame(
            WanCodec.WELCOME,
            b -> {
              b.writeShort(1)
                  .writeByte('h')
                  .writeShort(1)
                  .writeShort(4)
                  .writeBytes("vol0".getBytes(StandardCharsets.UTF_8));
              b.writeLong(7).writeLong(1).writeInt(WanCodec.MAX_DIVERGED_RANGES + 1);
            }),
        "WELCOME lists " + (WanCodec.MAX_DIVERGED_RANGES + 1) + " diverged ranges of volume vol0");
  }

  @Test
  void aBatchWithLargeIncompressibleRecordsRefersToThemAndIsTheSameOnTheWire() {
    Random random = new Random(7);
    byte[] large1 = new byte[WanCodec.REFERENCED_RECORD_BYTES];
    byte[] small = new byte[4096];
    byte[] large2 = new byte[1 << 20];
    random.nextBytes(large1);
    random.nextBytes(small);
    random.nextBytes(large2);
    WanMessage.Batch batch =
        new WanMessage.Batch(
            "vol0",
            List.of(
                new JournalEntry(5, large1),
                new JournalEntry(6, small),
                new JournalEntry(7, large2)));
    ByteBuf referenced = WanCodec.encode(ByteBufAllocator.DEFAULT, batch);
    ByteBuf copied = ByteBufAllocator.DEFAULT.buffer();
    try {
      WanCodec.write(batch, copied);
      assertThat(referenced)
          .as("large records are components of the frame, not copies")
          .isInstanceOf(CompositeByteBuf.class);
      assertThat(ByteBufUtil.equals(referenced, copied))
          .as("the same bytes as the copying encoder")
          .isTrue();
      WanMessage decoded = WanCodec.decodeFrame(referenced.skipBytes(4), 64 << 20);
      assertThat(decoded).isInstanceOf(WanMessage.Batch.class);
      List<JournalEntry> entries = ((WanMessage.Batch) decoded).entries();
      assertThat(entries).extracting(JournalEntry::seq).containsExactly(5L, 6L, 7L);
      assertThat(entries.get(0).encoded()).isEqualTo(large1);
      assertThat(entries.get(1).encoded()).isEqualTo(small);
      assertThat(entries.get(2).encoded()).isEqualTo(large2);
    } finally {
      referenced.release();
      copied.release();
    }
  }

  @Test
  void aBatchOfLargeCompressibleRecordsIsStillCompressed() {
    WanMessage.Batch batch =
        new WanMessage.Batch("vol0", List.of(new JournalEntry(1, new byte[1 << 20])));
    ByteBuf frame = WanCodec.encode(ByteBufAllocator.DEFAULT, batch);
    try {
      assertThat(frame).isNotInstanceOf(CompositeByteBuf.class);
      assertThat(frame.readableBytes()).as("a MiB of zeroes, LZ4-compressed").isLessThan(64 << 10);
    } finally {
      frame.release();
    }
  }

  @Test
  void aBatchOfManyTinyRecordsBeforeALargeOneEncodesTheSameEitherWay() {
    // Tiny entries leave the 4 KiB compression probe a tail too short for another entry header.
    List<JournalEntry> entries = new ArrayList<>();
    Random random = new Random(11);
    for (int i = 1; i <= 300; i++) {
      byte[] tiny = new byte[10];
      random.nextBytes(tiny);
      entries.add(new JournalEntry(i, tiny));
    }
    byte[] large = new byte[WanCodec.REFERENCED_RECORD_BYTES];
    random.nextBytes(large);
    entries.add(new JournalEntry(301, large));
    WanMessage.Batch batch = new WanMessage.Batch("vol0", entries);
    ByteBuf encoded = WanCodec.encode(ByteBufAllocator.DEFAULT, batch);
    try {
      WanMessage decoded = WanCodec.decodeFrame(encoded.skipBytes(4), 64 << 20);
      List<JournalEntry> got = ((WanMessage.Batch) decoded).entries();
      assertThat(got).hasSize(301);
      assertThat(got.get(300).encoded()).isEqualTo(large);
      assertThat(got.get(0).encoded()).isEqualTo(entries.get(0).encoded());
    } finally {
      encoded.release();
    }
  }
}
