package io.kagami.replicator.nbd;

import static io.kagami.replicator.nbd.EmbeddedNbd.enterTransmission;
import static io.kagami.replicator.nbd.EmbeddedNbd.receive;
import static io.kagami.replicator.nbd.EmbeddedNbd.request;
import static io.kagami.replicator.nbd.EmbeddedNbd.sent;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * When a connection stops being read: too many requests with the device, or replies the client does
 * not take. Deterministic: the test thread is the event loop and completes device operations
 * itself.
 */
class NbdSessionBackPressureTest {
  final MemoryBlockDevice vol0 = MemoryBlockDevice.writable("vol0", 1 << 20);
  EmbeddedChannel ch;

  @AfterEach
  void tearDown() {
    if (ch != null) {
      ch.finishAndReleaseAll();
    }
    vol0.close();
    assertThat(vol0.unreleasedBuffers()).isEmpty();
  }

  @Test
  void connectionsWaitForTheServersInFlightShareAndAreWokenWhenItDrains() throws Exception {
    vol0.hold();
    InFlightShare share = new InFlightShare(48 << 10);
    NbdServerConfig config =
        NbdServerConfig.listen("127.0.0.1", 0).withBlockSizes(512, 4096, 64 << 10);
    EmbeddedChannel one = EmbeddedNbd.channel(config, Exports.of(vol0), share);
    EmbeddedChannel two = EmbeddedNbd.channel(config, Exports.of(vol0), share);
    try {
      enterTransmission(one, "vol0");
      enterTransmission(two, "vol0");
      byte[] big = new byte[64 << 10];
      byte[] small = new byte[16 << 10];
      receive(one, request(NbdProtocol.CMD_WRITE, 0, 1, 0, big.length, big));
      assertThat(share.usedBytes())
          .as("a request larger than the share, alone on the idle server, is admitted")
          .isEqualTo(64 << 10);
      receive(two, request(NbdProtocol.CMD_WRITE, 0, 2, 0, small.length, small));
      assertThat(vol0.heldCount())
          .as("another connection's request waits while the share is overdrawn")
          .isEqualTo(1);
      assertThat(two.config().isAutoRead()).as("and its socket is not read").isFalse();
      assertThat(share.waits()).isEqualTo(1);

      vol0.awaitHeld().runHere();
      one.runPendingTasks();
      two.runPendingTasks();
      assertThat(vol0.heldCount())
          .as("woken by the release, the waiting request went to the device")
          .isEqualTo(1);
      assertThat(two.config().isAutoRead()).isTrue();
      receive(two, request(NbdProtocol.CMD_WRITE, 0, 3, 1 << 16, small.length, small));
      receive(one, request(NbdProtocol.CMD_WRITE, 0, 4, 1 << 16, small.length, small));
      assertThat(vol0.heldCount()).as("48 KiB: three 16 KiB requests fit").isEqualTo(3);
      receive(one, request(NbdProtocol.CMD_WRITE, 0, 5, 1 << 17, small.length, small));
      assertThat(vol0.heldCount()).as("the fourth waits").isEqualTo(3);
      for (int i = 0; i < 4; i++) {
        vol0.awaitHeld().runHere();
        one.runPendingTasks();
        two.runPendingTasks();
      }
      assertThat(share.usedBytes()).as("every payload given back").isZero();
      assertThat(replies(sent(one))).isEqualTo(3);
      assertThat(replies(sent(two))).isEqualTo(2);
    } finally {
      one.finishAndReleaseAll();
      two.finishAndReleaseAll();
    }
  }

  @Test
  void aWriteWaitingForTheShareIsNotReceivedAndOnlyTheBufferAlreadyReadIsKept() throws Exception {
    vol0.hold();
    InFlightShare share = new InFlightShare(32 << 10);
    NbdServerConfig config =
        NbdServerConfig.listen("127.0.0.1", 0).withBlockSizes(512, 4096, 64 << 10);
    EmbeddedChannel one = EmbeddedNbd.channel(config, Exports.of(vol0), share);
    EmbeddedChannel two = EmbeddedNbd.channel(config, Exports.of(vol0), share);
    try {
      enterTransmission(one, "vol0");
      enterTransmission(two, "vol0");
      byte[] big = new byte[32 << 10];
      receive(one, request(NbdProtocol.CMD_WRITE, 0, 1, 0, big.length, big));
      byte[] small = new byte[16 << 10];
      java.util.Arrays.fill(small, (byte) 5);
      byte[] wire = request(NbdProtocol.CMD_WRITE, 0, 2, 0, small.length, small);
      ByteBuf first = io.netty.buffer.Unpooled.directBuffer().writeBytes(wire, 0, 4096);
      two.writeInbound(first);
      two.runPendingTasks();
      assertThat(two.config().isAutoRead())
          .as("a WRITE whose payload does not fit the share: its connection is not read")
          .isFalse();
      assertThat(first.refCnt()).as("the bytes already read are kept, not copied").isEqualTo(1);
      assertThat(share.usedBytes()).as("nothing of it is admitted yet").isEqualTo(32 << 10);
      // Bytes of a read that was already under way are kept with them, in order.
      ByteBuf rest =
          io.netty.buffer.Unpooled.directBuffer().writeBytes(wire, 4096, wire.length - 4096);
      two.writeInbound(rest);
      assertThat(vol0.heldCount()).isEqualTo(1);

      vol0.awaitHeld().runHere();
      one.runPendingTasks();
      two.runPendingTasks();
      assertThat(share.usedBytes()).as("admitted once the share drained").isEqualTo(16 << 10);
      assertThat(first.refCnt()).as("copied out and released").isZero();
      assertThat(rest.refCnt()).isZero();
      assertThat(two.config().isAutoRead()).isTrue();
      vol0.awaitHeld().runHere();
      two.runPendingTasks();
      assertThat(replies(sent(two))).isEqualTo(1);
      assertThat(share.usedBytes()).isZero();
      var back = vol0.read(0, small.length, io.netty.buffer.UnpooledByteBufAllocator.DEFAULT);
      vol0.awaitHeld().runHere();
      ByteBuf data = back.get();
      try {
        assertThat(io.netty.buffer.ByteBufUtil.getBytes(data))
            .as("the device holds the WRITE that waited")
            .isEqualTo(small);
      } finally {
        data.release();
      }
    } finally {
      one.finishAndReleaseAll();
      two.finishAndReleaseAll();
    }
  }

  EmbeddedChannel open(int maxInFlight) {
    vol0.hold();
    ch =
        EmbeddedNbd.channel(
            NbdServerConfig.listen("127.0.0.1", 0).withMaxInFlightRequests(maxInFlight),
            Exports.of(vol0));
    enterTransmission(ch, "vol0");
    return ch;
  }

  static int replies(ByteBuf b) {
    return replies(b, -1, 0);
  }

  /**
   * Counts successful simple replies; the one for {@code readCookie} carries {@code readLength}
   * bytes.
   */
  static int replies(ByteBuf b, long readCookie, int readLength) {
    int n = 0;
    while (b.isReadable()) {
      assertThat(b.readInt()).isEqualTo(NbdProtocol.SIMPLE_REPLY_MAGIC);
      assertThat(b.readInt()).as("error").isZero();
      if (b.readLong() == readCookie) {
        b.skipBytes(readLength);
      }
      n++;
    }
    b.release();
    return n;
  }

  @Test
  void aWriteTheSessionRefusesIsNeverAdmittedOrHeldAndIsAnsweredWithItsError() throws Exception {
    vol0.hold();
    InFlightShare share = new InFlightShare(16 << 20);
    NbdServerConfig config =
        NbdServerConfig.listen("127.0.0.1", 0).withBlockSizes(512, 4096, 4 << 20);
    try (MemoryBlockDevice replica = MemoryBlockDevice.readOnly("replica", 1 << 20)) {
      EmbeddedChannel ch = EmbeddedNbd.channel(config, Exports.of(vol0, replica), share);
      EmbeddedChannel ro = EmbeddedNbd.channel(config, Exports.of(vol0, replica), share);
      try {
        enterTransmission(ch, "vol0");
        enterTransmission(ro, "replica");
        // 4 MiB at 512 KiB into a 1 MiB export: within the maximum block size, beyond the export.
        // Found by fuzzing: the header alone made the decoder allocate the whole payload.
        byte[] big = new byte[4 << 20];
        byte[] beyond = request(NbdProtocol.CMD_WRITE, 0, 7, 512 << 10, big.length, big);
        assertRefusedWhileStreaming(ch, share, beyond, 7, NbdProtocol.ENOSPC);
        byte[] small = new byte[64 << 10];
        byte[] readOnly = request(NbdProtocol.CMD_WRITE, 0, 8, 0, small.length, small);
        assertRefusedWhileStreaming(ro, share, readOnly, 8, NbdProtocol.EPERM);
        // The stream stayed in sync: the next request on the same connection is served.
        receive(ch, request(NbdProtocol.CMD_WRITE, 0, 9, 0, small.length, small));
        vol0.awaitHeld().runHere();
        ch.runPendingTasks();
        assertThat(replies(sent(ch))).isEqualTo(1);
      } finally {
        ch.finishAndReleaseAll();
        ro.finishAndReleaseAll();
      }
    }
  }

  /** Feeds {@code wire} in 64 KiB pieces: nothing is ever admitted; one reply, {@code error}. */
  private static void assertRefusedWhileStreaming(
      EmbeddedChannel ch, InFlightShare share, byte[] wire, long cookie, int error) {
    for (int at = 0; at < wire.length; at += 64 << 10) {
      ch.writeInbound(
          io.netty.buffer.Unpooled.copiedBuffer(wire, at, Math.min(64 << 10, wire.length - at)));
      ch.runPendingTasks();
      assertThat(share.usedBytes()).as("nothing of a refused WRITE is admitted").isZero();
      assertThat(ch.config().isAutoRead()).as("its payload is read and thrown away").isTrue();
    }
    ByteBuf out = sent(ch);
    try {
      assertThat(out.readInt()).isEqualTo(NbdProtocol.SIMPLE_REPLY_MAGIC);
      assertThat(out.readInt()).as("error").isEqualTo(error);
      assertThat(out.readLong()).as("cookie").isEqualTo(cookie);
      assertThat(out.isReadable()).as("one reply").isFalse();
    } finally {
      out.release();
    }
  }

  @Test
  void readingStopsAtTheInFlightLimitAndResumesAsRequestsComplete() throws Exception {
    open(2);
    assertThat(ch.config().isAutoRead()).isTrue();
    receive(ch, request(NbdProtocol.CMD_FLUSH, 0, 1, 0, 0, null));
    assertThat(ch.config().isAutoRead()).as("auto-read with 1 of 2 in flight").isTrue();
    // Two more arrive in one read: one goes to the device, one waits, reading stops.
    byte[] two = new byte[56];
    System.arraycopy(request(NbdProtocol.CMD_FLUSH, 0, 2, 0, 0, null), 0, two, 0, 28);
    System.arraycopy(request(NbdProtocol.CMD_FLUSH, 0, 3, 0, 0, null), 0, two, 28, 28);
    receive(ch, two);
    assertThat(vol0.heldCount()).as("operations with the device").isEqualTo(2);
    assertThat(ch.config().isAutoRead())
        .as("auto-read with 2 of 2 in flight and 1 waiting")
        .isFalse();
    vol0.awaitHeld().runHere();
    ch.runPendingTasks();
    assertThat(vol0.heldCount()).as("the waiting request took the free slot").isEqualTo(2);
    assertThat(ch.config().isAutoRead()).as("auto-read with 2 of 2 in flight again").isFalse();
    vol0.awaitHeld().runHere();
    ch.runPendingTasks();
    assertThat(ch.config().isAutoRead()).as("auto-read with 1 of 2 in flight").isTrue();
    vol0.awaitHeld().runHere();
    ch.runPendingTasks();
    assertThat(replies(sent(ch))).isEqualTo(3);
  }

  @Test
  void payloadBytesWithTheDeviceStayWithinTheBudget() throws Exception {
    vol0.hold();
    ch =
        EmbeddedNbd.channel(
            NbdServerConfig.listen("127.0.0.1", 0)
                .withBlockSizes(512, 4096, 64 << 10)
                .withMaxInFlightBytes(64 << 10),
            Exports.of(vol0));
    enterTransmission(ch, "vol0");
    byte[] half = new byte[32 << 10];
    receive(ch, request(NbdProtocol.CMD_WRITE, 0, 1, 0, half.length, half));
    receive(ch, request(NbdProtocol.CMD_READ, 0, 2, 0, half.length, null));
    assertThat(ch.config().isAutoRead()).as("auto-read with the whole budget in use").isFalse();
    receive(ch, request(NbdProtocol.CMD_WRITE, 0, 3, 1 << 16, half.length, half));
    receive(ch, request(NbdProtocol.CMD_FLUSH, 0, 4, 0, 0, null));
    assertThat(vol0.heldCount())
        .as("operations with the device at 64 KiB of 64 KiB (the FLUSH waits in order)")
        .isEqualTo(2);
    vol0.awaitHeld().runHere();
    ch.runPendingTasks();
    assertThat(vol0.heldCount())
        .as("the waiting WRITE took the freed 32 KiB, and the FLUSH, without payload, followed")
        .isEqualTo(3);
    for (int i = 0; i < 3; i++) {
      vol0.awaitHeld().runHere();
    }
    ch.runPendingTasks();
    assertThat(replies(sent(ch), 2, 32 << 10)).isEqualTo(4);
    assertThat(ch.config().isAutoRead()).isTrue();
  }

  @Test
  void readingStopsWhileRepliesPileUpUnsentAndResumesWhenTheyDrain() {
    open(16);
    // What the transport does when the outbound buffer passes its high-water mark.
    ch.unsafe().outboundBuffer().setUserDefinedWritability(1, false);
    ch.runPendingTasks();
    assertThat(ch.isWritable()).isFalse();
    assertThat(ch.config().isAutoRead()).as("auto-read while replies cannot be sent").isFalse();
    ch.unsafe().outboundBuffer().setUserDefinedWritability(1, true);
    ch.runPendingTasks();
    assertThat(ch.config().isAutoRead()).as("auto-read once they drained").isTrue();
  }

  @Test
  void afterDiscNothingIsReadAndTheConnectionClosesOnceDrained() throws Exception {
    open(16);
    byte[] both = new byte[56];
    System.arraycopy(request(NbdProtocol.CMD_FLUSH, 0, 1, 0, 0, null), 0, both, 0, 28);
    System.arraycopy(request(NbdProtocol.CMD_DISC, 0, 2, 0, 0, null), 0, both, 28, 28);
    receive(ch, both);
    assertThat(ch.config().isAutoRead()).isFalse();
    assertThat(ch.isActive()).as("open while the FLUSH is with the device").isTrue();
    vol0.awaitHeld().runHere();
    ch.runPendingTasks();
    assertThat(replies(sent(ch))).isEqualTo(1);
    assertThat(ch.isActive()).as("open after the last reply").isFalse();
  }

  @Test
  void aShutdownAnswersWaitingRequestsWithEshutdownAndFinishesTheOthers() throws Exception {
    open(1);
    byte[] two = new byte[56];
    System.arraycopy(request(NbdProtocol.CMD_FLUSH, 0, 1, 0, 0, null), 0, two, 0, 28);
    System.arraycopy(request(NbdProtocol.CMD_FLUSH, 0, 2, 0, 0, null), 0, two, 28, 28);
    receive(ch, two);
    ch.pipeline().fireUserEventTriggered(NbdServer.ShutdownEvent.INSTANCE);
    ch.runPendingTasks();
    ByteBuf first = sent(ch);
    assertThat(first.readInt()).isEqualTo(NbdProtocol.SIMPLE_REPLY_MAGIC);
    assertThat(first.readInt())
        .as("error for the request that had not reached the device")
        .isEqualTo(108);
    assertThat(first.readLong()).isEqualTo(2);
    first.release();
    assertThat(ch.isActive()).isTrue();
    vol0.awaitHeld().runHere();
    ch.runPendingTasks();
    assertThat(replies(sent(ch))).isEqualTo(1);
    assertThat(ch.isActive()).isFalse();
  }
}
