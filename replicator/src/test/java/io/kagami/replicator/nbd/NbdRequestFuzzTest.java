package io.kagami.replicator.nbd;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.kagami.testkit.fuzz.AllocationBudget;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * Coverage-guided fuzzing of the transmission-phase decoder ({@link NbdRequestDecoder}) alone, fed
 * a byte stream in pieces of fuzzer-chosen sizes, with a maximum block size of 4 KiB so that the
 * oversized-WRITE path (read and thrown away as it streams in) is reached by small inputs.
 *
 * <p>The contract: the decoder either yields requests or, at the first bad magic, reports one
 * {@link NbdProtocolException} naming it and then ignores the rest; a WRITE's payload is exactly
 * its length, an oversized one carries none and is marked; nothing follows a DISC; a stream that
 * ends mid-request is described by {@code truncation()}; every received buffer is released; a 4 GiB
 * length is never allocated (at most 1 MiB plus 512 bytes per input byte).
 */
class NbdRequestFuzzTest {
  static final int MAX_BLOCK = 4096;
  static final NbdServerConfig CONFIG =
      NbdServerConfig.listen("127.0.0.1", 0).withBlockSizes(512, 4096, MAX_BLOCK);
  static final AllocationBudget BUDGET = AllocationBudget.of(1 << 20, 4096);

  @FuzzTest(maxDuration = "10s")
  void requestStreamDecodesOrEndsWithAReason(FuzzedDataProvider data) {
    int piece = data.consumeInt(1, 1 << 16);
    byte[] stream = data.consumeRemainingAsBytes();
    // At most 32 pieces: splits where they matter, without a thousand one-byte reads per input.
    int size = Math.max(piece, (stream.length + 31) / 32);
    BUDGET.check(stream.length, () -> decode(stream, size));
  }

  static void decode(byte[] stream, int piece) {
    NbdRequestDecoder decoder = new NbdRequestDecoder(CONFIG);
    EmbeddedChannel ch = new EmbeddedChannel(decoder);
    List<ByteBuf> pieces = new ArrayList<>();
    int refusals = 0;
    boolean disconnected = false;
    try {
      for (int at = 0; at < stream.length; at += piece) {
        ByteBuf b = Unpooled.copiedBuffer(stream, at, Math.min(piece, stream.length - at));
        pieces.add(b);
        try {
          ch.writeInbound(b);
        } catch (NbdProtocolException e) {
          if (e.getMessage() == null || !e.getMessage().startsWith("bad request magic")) {
            throw new AssertionError("refused without naming the bad magic: " + e, e);
          }
          refusals++;
        }
        NbdRequest r;
        while ((r = ch.readInbound()) != null) {
          try {
            if (disconnected) {
              throw new AssertionError("a request was decoded after DISC: " + r);
            }
            check(r);
            disconnected = r.type() == NbdProtocol.CMD_DISC;
          } finally {
            r.release();
          }
        }
      }
      ch.finish();
    } finally {
      ch.finishAndReleaseAll();
    }
    if (refusals > 1) {
      throw new AssertionError("the bad magic was reported " + refusals + " times");
    }
    for (int i = 0; i < pieces.size(); i++) {
      if (pieces.get(i).refCnt() != 0) {
        throw new AssertionError("received piece " + (i + 1) + " was never released");
      }
    }
  }

  private static void check(NbdRequest r) {
    if (r.type() == NbdProtocol.CMD_WRITE) {
      if (r.oversized()) {
        if (r.payload() != null || r.length() <= MAX_BLOCK) {
          throw new AssertionError("oversized WRITE of " + r.length() + " bytes: " + r);
        }
      } else if (r.payload() == null || r.payload().readableBytes() != r.length()) {
        throw new AssertionError(
            "WRITE of "
                + r.length()
                + " bytes carries "
                + (r.payload() == null ? "no payload" : r.payload().readableBytes() + " bytes"));
      }
    } else if (r.payload() != null || r.oversized()) {
      throw new AssertionError("a request of type " + r.type() + " carries a payload: " + r);
    }
    if (r.length() < 0 || r.length() > 0xffffffffL) {
      throw new AssertionError("length outside 32 bits: " + r);
    }
  }
}
