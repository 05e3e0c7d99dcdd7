package io.kagami.replicator.nbd;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.kagami.testkit.fuzz.AllocationBudget;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * Coverage-guided fuzzing of an NBD connection from its first byte: the server's real pipeline
 * ({@link NbdServer#initPipeline}) on an {@link EmbeddedChannel}, fed a client's byte stream in
 * pieces of a fuzzer-chosen size: client flags, option haggling (EXPORT_NAME, ABORT, LIST, INFO, GO
 * and unknown options, with any data), and after a successful GO or EXPORT_NAME the transmission
 * phase (requests decoded and executed on a small device).
 *
 * <p>The contract: whatever ends the connection reaches the connection guard as an {@link
 * NbdProtocolException} with a reason (anything else would be logged as an "unexpected failure": a
 * bug); the session never passes the device an operation outside it or a write to the read-only
 * export; every buffer is released once the connection is gone; one input allocates at most 2 MiB
 * plus 4 KiB per input byte (a READ of the whole 64 KiB export is 28 bytes).
 *
 * <p>A normal build replays {@code NbdHandshakeFuzzTestInputs}; {@code JAZZER_FUZZ=1} fuzzes (see
 * the README's "Fuzzing").
 */
class NbdHandshakeFuzzTest {
  static final int SIZE = 64 << 10;
  static final NbdServerConfig CONFIG = NbdServerConfig.listen("127.0.0.1", 0);
  static final AllocationBudget BUDGET = AllocationBudget.of(2 << 20, 4096);

  /** Each refused connection logs a line (rate-limited); millions of them are noise here. */
  static final java.util.logging.Logger QUIET = quiet();

  static java.util.logging.Logger quiet() {
    java.util.logging.Logger l = java.util.logging.Logger.getLogger("io.kagami");
    l.setLevel(java.util.logging.Level.OFF);
    return l;
  }

  @FuzzTest(maxDuration = "10s")
  void anyClientBytesEndInAnAnswerOrAReason(FuzzedDataProvider data) {
    int piece = data.consumeInt(1, 4096);
    byte[] stream = data.consumeRemainingAsBytes();
    // At most 32 pieces: splits where they matter, without a thousand one-byte reads per input.
    int size = Math.max(piece, (stream.length + 31) / 32);
    BUDGET.check(stream.length, () -> serve(stream, size));
  }

  static void serve(byte[] stream, int piece) {
    CheckedMemoryDevice vol0 = new CheckedMemoryDevice("vol0", SIZE, false);
    CheckedMemoryDevice replica = new CheckedMemoryDevice("replica", SIZE, true);
    List<Throwable> reasons = new ArrayList<>();
    List<ByteBuf> pieces = new ArrayList<>();
    EmbeddedChannel ch = EmbeddedNbd.channel(CONFIG, Exports.of(vol0, replica));
    ch.pipeline()
        .addBefore(
            NbdServer.GUARD_HANDLER,
            "fuzz-reasons",
            new ChannelInboundHandlerAdapter() {
              @Override
              public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                reasons.add(cause);
                ctx.fireExceptionCaught(cause);
              }
            });
    try {
      EmbeddedNbd.sent(ch).release(); // the greeting
      for (int at = 0; at < stream.length && ch.isOpen(); at += piece) {
        ByteBuf b = Unpooled.copiedBuffer(stream, at, Math.min(piece, stream.length - at));
        pieces.add(b);
        ch.writeInbound(b);
        ch.runPendingTasks();
        EmbeddedNbd.sent(ch).release();
      }
    } finally {
      ch.finishAndReleaseAll();
    }
    for (Throwable t : reasons) {
      if (!(t instanceof NbdProtocolException)
          || t.getMessage() == null
          || t.getMessage().isBlank()) {
        throw new AssertionError("the connection ended with an unexpected " + t, t);
      }
    }
    List<String> violations = new ArrayList<>(vol0.violations());
    violations.addAll(replica.violations());
    if (!violations.isEmpty()) {
      throw new AssertionError("the session passed the device what it must refuse: " + violations);
    }
    if (!vol0.unreleasedReads().isEmpty() || !replica.unreleasedReads().isEmpty()) {
      throw new AssertionError("READ buffers left unreleased after the connection closed");
    }
    for (int i = 0; i < pieces.size(); i++) {
      if (pieces.get(i).refCnt() != 0) {
        throw new AssertionError("received piece " + (i + 1) + " was never released");
      }
    }
  }
}
