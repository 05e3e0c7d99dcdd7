package io.kagami.wan.frame;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

/**
 * Coverage-guided fuzzing of the WAN frame decoder (Jazzer): any byte string is either a message or
 * a {@link MalformedFrameException} naming what is wrong; nothing else may escape (no
 * IndexOutOfBounds, no OutOfMemoryError from a length field, no hang). In a normal build it runs
 * the checked-in inputs under {@code src/test/resources/.../WanFrameFuzzTestInputs}; with {@code
 * JAZZER_FUZZ=1} it fuzzes.
 */
class WanFrameFuzzTest {
  @FuzzTest(maxDuration = "10s")
  void decodeFrameAcceptsOrRefusesEveryInput(byte[] input) {
    ByteBuf frame = Unpooled.wrappedBuffer(input);
    try {
      WanCodec.decodeFrame(frame, WanCodec.MIN_MAX_FRAME_BYTES);
    } catch (MalformedFrameException expected) {
      // refused with a reason: what bad input must get
    } finally {
      frame.release();
    }
  }
}
