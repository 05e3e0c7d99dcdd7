package io.kagami.wan.frame;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.kagami.testkit.fuzz.AllocationBudget;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;

/**
 * Coverage-guided fuzzing of the WAN codec as the link runs it: a {@link WanCodec} in a Netty
 * pipeline receiving a byte stream cut into pieces of fuzzer-chosen sizes (length prefixes split
 * across reads, several frames in one read), then the connection closing. The contract: the stream
 * yields messages until the first malformed frame, which is reported once as a {@link
 * MalformedFrameException} with a reason (any other exception the pipeline raises, a Netty {@code
 * DecoderException} wrapping a bug included, fails the target); everything after it is discarded
 * silently; a close in the middle of a frame says so; no other exception, no buffer left
 * unreleased, and no allocation beyond the configured maximum frame plus a bound per input byte.
 */
class WanStreamFuzzTest {
  private static final int MAX = WanCodec.MIN_MAX_FRAME_BYTES;
  private static final AllocationBudget BUDGET = AllocationBudget.of(4L * MAX + (1 << 20), 4096);

  @FuzzTest(maxDuration = "10s")
  void streamOfPiecesDecodesOrFailsOnce(FuzzedDataProvider data) {
    int pieces = data.consumeInt(1, 8);
    int[] sizes = new int[pieces];
    for (int i = 0; i < pieces; i++) {
      sizes[i] = data.consumeInt(0, 1 << 16);
    }
    byte[] stream = data.consumeRemainingAsBytes();
    int[] failures = {0};
    BUDGET.check(
        stream.length,
        () -> {
          failures[0] = 0;
          EmbeddedChannel channel = new EmbeddedChannel(new WanCodec(MAX));
          java.util.List<ByteBuf> delivered = new java.util.ArrayList<>();
          try {
            int at = 0;
            for (int i = 0; i < pieces && at < stream.length; i++) {
              int n = i == pieces - 1 ? stream.length - at : Math.min(sizes[i], stream.length - at);
              ByteBuf piece = Unpooled.copiedBuffer(stream, at, n);
              if (n > 0) {
                delivered.add(piece); // (an empty piece is Netty's shared empty buffer)
              }
              at += n;
              failures[0] += deliver(() -> channel.writeInbound(piece));
            }
            failures[0] += deliver(channel::finish);
          } finally {
            channel.finishAndReleaseAll();
          }
          for (int i = 0; i < delivered.size(); i++) {
            if (delivered.get(i).refCnt() != 0) {
              throw new AssertionError("piece " + (i + 1) + " of the stream was never released");
            }
          }
        });
    if (failures[0] > 1) {
      throw new AssertionError("a malformed stream was reported " + failures[0] + " times");
    }
  }

  /** 1 if the pipeline reported a malformed frame, 0 if not; any other exception escapes. */
  private static int deliver(Runnable step) {
    try {
      step.run();
      return 0;
    } catch (MalformedFrameException e) {
      if (e.getMessage() == null || e.getMessage().isEmpty()) {
        throw new AssertionError("a malformed frame was reported without a reason", e);
      }
      return 1;
    }
  }
}
