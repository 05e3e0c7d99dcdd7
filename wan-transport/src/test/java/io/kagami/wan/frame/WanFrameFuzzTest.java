package io.kagami.wan.frame;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.kagami.testkit.fuzz.AllocationBudget;
import io.kagami.wan.receive.ReceiverConfig;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;

/**
 * Coverage-guided fuzzing of the WAN frame decoder (Jazzer), every frame type (the handshake's
 * HELLO and WELCOME included; the type is the frame's first byte, so the fuzzer reaches each one,
 * and the seeds hold a valid frame of each): any byte string is either a message or a {@link
 * MalformedFrameException} naming what is wrong; nothing else may escape (no IndexOutOfBounds, no
 * IllegalArgumentException from a message's constructor, no OutOfMemoryError, no hang).
 *
 * <p>The decoder runs with the maximum frame size a link has by default (64 MiB), and one input may
 * make it allocate at most 1 MiB plus 512 bytes per input byte: a length field is checked against
 * what arrived before anything is allocated for it (LZ4 expands at most 255 ×).
 *
 * <p>A message that decodes must encode again, and that encoding must decode to a message that
 * encodes to the same bytes (a decoder that accepts what the encoder cannot write, or reads a field
 * differently from how it is written, fails here).
 *
 * <p>In a normal build this runs the checked-in inputs under {@code
 * src/test/resources/.../WanFrameFuzzTestInputs}; with {@code JAZZER_FUZZ=1} it fuzzes (see the
 * README's "Fuzzing").
 */
class WanFrameFuzzTest {
  static final int MAX = ReceiverConfig.DEFAULT_MAX_FRAME_BYTES;
  static final AllocationBudget BUDGET = AllocationBudget.of(1 << 20, 512);

  @FuzzTest(maxDuration = "10s")
  void decodeFrameAcceptsOrRefusesEveryInput(byte[] input) {
    WanMessage[] decoded = new WanMessage[1];
    try {
      BUDGET.check(input.length, () -> decoded[0] = decode(input));
    } catch (MalformedFrameException expected) {
      return; // refused with a reason: what bad input must get
    }
    byte[] once = encode(decoded[0]);
    ByteBuf again = Unpooled.wrappedBuffer(once, 4, once.length - 4);
    WanMessage reread;
    try {
      reread = WanCodec.decodeFrame(again, MAX);
    } catch (MalformedFrameException e) {
      throw new AssertionError(
          "decoded " + decoded[0] + " but its own encoding is refused: " + e.getMessage(), e);
    } finally {
      again.release();
    }
    byte[] twice = encode(reread);
    if (!java.util.Arrays.equals(once, twice)) {
      throw new AssertionError(
          "encoding is not stable: "
              + decoded[0]
              + " encodes to "
              + ByteBufUtil.hexDump(once)
              + ", which decodes to "
              + reread
              + " encoding to "
              + ByteBufUtil.hexDump(twice));
    }
  }

  /** Decodes {@code input} as one frame (length prefix removed), from a buffer of its own. */
  static WanMessage decode(byte[] input) {
    ByteBuf frame = Unpooled.wrappedBuffer(input);
    try {
      return WanCodec.decodeFrame(frame, MAX);
    } finally {
      frame.release();
    }
  }

  static byte[] encode(WanMessage m) {
    ByteBuf out = WanCodec.encode(UnpooledByteBufAllocator.DEFAULT, m);
    try {
      return ByteBufUtil.getBytes(out);
    } finally {
      out.release();
    }
  }
}
