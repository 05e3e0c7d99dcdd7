package io.kagami.replicator.nbd;

import static io.kagami.replicator.nbd.EmbeddedNbd.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The request decoder alone: framing, payload ownership, oversized writes, bad magic, DISC. */
class NbdRequestDecoderTest {
  final NbdRequestDecoder decoder =
      new NbdRequestDecoder(NbdServerConfig.listen("127.0.0.1", 0).withBlockSizes(512, 4096, 8192));
  final EmbeddedChannel ch = new EmbeddedChannel(decoder);

  @AfterEach
  void tearDown() {
    ch.finishAndReleaseAll();
  }

  static byte[] concat(byte[]... parts) {
    int n = Arrays.stream(parts).mapToInt(p -> p.length).sum();
    ByteBuffer b = ByteBuffer.allocate(n);
    for (byte[] p : parts) {
      b.put(p);
    }
    return b.array();
  }

  void feedByteByByte(byte[] bytes) {
    for (byte x : bytes) {
      ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {x}));
    }
  }

  @Test
  void decodesHeadersAndPayloadsSplitAnywhere() {
    byte[] payload = new byte[1024];
    Arrays.fill(payload, (byte) 7);
    feedByteByByte(
        concat(
            request(NbdProtocol.CMD_READ, 1, 11, 4096, 512, null),
            request(NbdProtocol.CMD_WRITE, 0, 12, -1, payload.length, payload)));
    NbdRequest read = ch.readInbound();
    assertThat(read).isEqualTo(new NbdRequest(1, NbdProtocol.CMD_READ, 11, 4096, 512, null, false));
    NbdRequest write = ch.readInbound();
    assertThat(write.cookie()).isEqualTo(12);
    assertThat(write.offset()).as("offsets are unsigned: 2^64-1 decodes as -1").isEqualTo(-1);
    assertThat(ByteBufUtil.getBytes(write.payload())).isEqualTo(payload);
    write.release();
    assertThat(write.payload().refCnt()).isZero();
    assertThat(ch.<Object>readInbound()).isNull();
  }

  @Test
  void anOversizedWriteIsDiscardedAsItStreamsAndTheNextRequestIsDecoded() {
    int length = 1 << 20; // above the 8 KiB maximum
    ch.writeInbound(Unpooled.wrappedBuffer(request(NbdProtocol.CMD_WRITE, 0, 21, 0, length, null)));
    for (int sent = 0; sent < length; sent += 64 << 10) {
      assertThat(ch.<Object>readInbound())
          .as("nothing is passed on before the payload is consumed")
          .isNull();
      ByteBuf chunk = Unpooled.wrappedBuffer(new byte[64 << 10]);
      ch.writeInbound(chunk);
      assertThat(chunk.refCnt()).as("a discarded chunk is released at once, not buffered").isZero();
    }
    ch.writeInbound(Unpooled.wrappedBuffer(request(NbdProtocol.CMD_FLUSH, 0, 22, 0, 0, null)));
    NbdRequest oversized = ch.readInbound();
    assertThat(oversized.oversized()).isTrue();
    assertThat(oversized.payload()).isNull();
    assertThat(oversized.length()).isEqualTo(length);
    NbdRequest flush = ch.readInbound();
    assertThat(flush.cookie()).isEqualTo(22);
  }

  @Test
  void aBadMagicFailsTheConnectionAndLaterBytesAreIgnored() {
    byte[] bad = request(NbdProtocol.CMD_READ, 0, 1, 0, 512, null);
    bad[0] = 0x12;
    assertThatThrownBy(() -> ch.writeInbound(Unpooled.wrappedBuffer(bad)))
        .isInstanceOf(NbdProtocolException.class)
        .hasMessageContaining("bad request magic 0x12609513");
    ch.writeInbound(Unpooled.wrappedBuffer(request(NbdProtocol.CMD_READ, 0, 2, 0, 512, null)));
    assertThat(ch.<Object>readInbound()).isNull();
  }

  @Test
  void nothingAfterDiscIsDecoded() {
    ch.writeInbound(
        Unpooled.wrappedBuffer(
            concat(
                request(NbdProtocol.CMD_DISC, 0, 1, 0, 0, null),
                request(NbdProtocol.CMD_READ, 0, 2, 0, 512, null))));
    assertThat(((NbdRequest) ch.readInbound()).type()).isEqualTo(NbdProtocol.CMD_DISC);
    assertThat(ch.<Object>readInbound()).isNull();
  }

  @Test
  void aStreamEndingMidRequestIsNotedForTheLog() {
    byte[] write = request(NbdProtocol.CMD_WRITE, 0, 1, 0, 4096, new byte[4096]);
    ch.writeInbound(Unpooled.wrappedBuffer(Arrays.copyOf(write, 28 + 100)));
    ch.close();
    assertThat(decoder.truncation())
        .isEqualTo("a 4096-byte WRITE was cut off after 100 payload bytes");
  }

  @Test
  void aStreamEndingMidHeaderIsNotedForTheLog() {
    ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {0x25, 0x60, (byte) 0x95}));
    ch.close();
    assertThat(decoder.truncation()).isEqualTo("a request header was cut off after 3 of 28 bytes");
  }

  @Test
  void writePayloadsGetArraysOfTheirOwnAndReceiveBuffersAreReleasedAtOnce() {
    NbdRequestDecoder withRoom =
        new NbdRequestDecoder(
            NbdServerConfig.listen("127.0.0.1", 0).withBlockSizes(512, 4096, 8192), () -> 16);
    EmbeddedChannel room = new EmbeddedChannel(withRoom);
    try {
      byte[] payload = new byte[4096];
      Arrays.fill(payload, (byte) 42);
      byte[] wire = request(NbdProtocol.CMD_WRITE, 0, 5, 0, payload.length, payload);
      List<ByteBuf> pieces = new ArrayList<>();
      for (int at = 0; at < wire.length; at += 1000) {
        ByteBuf in =
            Unpooled.directBuffer(1000).writeBytes(wire, at, Math.min(1000, wire.length - at));
        pieces.add(in);
        room.writeInbound(in);
        assertThat(in.refCnt())
            .as("a receive buffer is released once read, not kept for the payload in it")
            .isZero();
      }
      NbdRequest write = room.readInbound();
      assertThat(write.admitted()).isTrue();
      ByteBuf data = write.payload();
      assertThat(data.hasArray()).as("the payload is a heap array of its own").isTrue();
      assertThat(data.arrayOffset() + data.readerIndex())
          .as("with the device's headroom before the data")
          .isEqualTo(16);
      assertThat(data.array()).hasSize(16 + payload.length);
      assertThat(ByteBufUtil.getBytes(data)).isEqualTo(payload);
      write.release();
      assertThat(pieces).hasSize(5);
    } finally {
      room.finishAndReleaseAll();
    }
  }
}
