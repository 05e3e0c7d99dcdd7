package io.kagami.wan.frame;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;

/**
 * Coverage-guided fuzzing of the LZ4-compressed frames (BATCH with flag 1, REGION with flag 1): a
 * random byte string seldom is a valid LZ4 block, so the raw-frame target rarely gets past
 * decompression. Here the fuzzer writes the uncompressed content (a BATCH's entries section, a
 * REGION's data), which is compressed for real, and then chooses whether the frame declares the
 * true uncompressed length or another one, and whether one byte of the block is flipped or the
 * block cut short. The decoder must return the message (only when everything matches) or a {@link
 * MalformedFrameException}; for a BATCH it then parses the decompressed entries, so their checks
 * (count, consecutive seqs, lengths) are fuzzed behind a valid LZ4 block too. Allocation is held to
 * the same budget as {@link WanFrameFuzzTest}.
 */
class WanLz4FuzzTest {
  private static final LZ4Compressor LZ4 = LZ4Factory.fastestInstance().fastCompressor();

  @FuzzTest(maxDuration = "10s")
  void compressedBatchesAndRegionsDecodeOrAreRefused(FuzzedDataProvider data) {
    boolean batch = data.consumeBoolean();
    int lengthDelta = data.pickValue(new int[] {0, 0, 0, 1, -1, 255, 1 << 20, Integer.MIN_VALUE});
    int damage = data.consumeInt(0, 3); // 0: none, 1: flip a byte, 2: cut the block short
    int where = data.consumeInt(0, Integer.MAX_VALUE);
    byte flip = data.consumeByte();
    byte[] content = data.consumeRemainingAsBytes();
    if (content.length == 0) {
      content = new byte[1];
    }
    byte[] block = LZ4.compress(content);
    if (damage == 1) {
      block[where % block.length] ^= flip == 0 ? 1 : flip;
    } else if (damage == 2) {
      block = java.util.Arrays.copyOf(block, where % block.length);
    }
    long declared = Integer.toUnsignedLong(content.length + lengthDelta);
    ByteBuf frame = Unpooled.buffer();
    byte[] volume = "vol0".getBytes(StandardCharsets.US_ASCII);
    frame.writeByte(batch ? WanCodec.BATCH : WanCodec.REGION);
    frame.writeShort(volume.length).writeBytes(volume);
    if (batch) {
      frame.writeByte(WanCodec.FLAG_LZ4).writeInt((int) declared);
    } else {
      frame
          .writeLong(4096L * (where & 0xffff))
          .writeByte(WanCodec.FLAG_LZ4)
          .writeInt((int) declared);
    }
    frame.writeBytes(block);
    byte[] input = new byte[frame.readableBytes()];
    frame.readBytes(input);
    frame.release();
    WanMessage[] decoded = new WanMessage[1];
    try {
      WanFrameFuzzTest.BUDGET.check(
          input.length, () -> decoded[0] = WanFrameFuzzTest.decode(input));
    } catch (MalformedFrameException expected) {
      return;
    }
    if (damage != 0) {
      return; // a damaged block may still decompress to something of the declared length
    }
    if (declared != content.length) {
      throw new AssertionError(
          "a frame declaring "
              + declared
              + " uncompressed bytes was accepted though its block holds "
              + content.length
              + ": "
              + decoded[0]);
    }
    if (decoded[0] instanceof WanMessage.Region r && !java.util.Arrays.equals(r.data(), content)) {
      throw new AssertionError("REGION data differs from what was compressed");
    }
  }
}
