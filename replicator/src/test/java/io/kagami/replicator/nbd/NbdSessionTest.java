package io.kagami.replicator.nbd;

import static io.kagami.replicator.nbd.NbdProtocol.CMD_BLOCK_STATUS;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_CACHE;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_FLAG_FUA;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_FLAG_NO_HOLE;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_FLUSH;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_READ;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_TRIM;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_WRITE;
import static io.kagami.replicator.nbd.NbdProtocol.CMD_WRITE_ZEROES;
import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.replicator.volume.DeviceError;
import io.kagami.replicator.volume.DeviceException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The transmission phase over real loopback sockets: every command, the checks at the edge, error
 * mapping, out-of-order completion, back-pressure, DISC and shutdown. The device completes on its
 * own threads, as real devices do.
 */
class NbdSessionTest {
  static final int SIZE = 1 << 20;
  static final int EPERM = 1;
  static final int EIO = 5;
  static final int EINVAL = 22;
  static final int ENOSPC = 28;
  static final int ESHUTDOWN = 108;

  MemoryBlockDevice vol0;
  MemoryBlockDevice replica;
  NbdServer server;
  int port;

  @BeforeEach
  void start() {
    start(NbdServerConfig.listen("127.0.0.1", 0).withBlockSizes(512, 4096, 64 << 10));
  }

  void start(NbdServerConfig config) {
    vol0 = MemoryBlockDevice.writable("vol0", SIZE);
    replica = MemoryBlockDevice.readOnly("replica", SIZE);
    server = new NbdServer(config, Exports.of(vol0, replica));
    port = server.start();
  }

  void restart(NbdServerConfig config) {
    stop();
    start(config);
  }

  @AfterEach
  void stop() {
    server.close();
    vol0.close();
    replica.close();
    assertThat(vol0.unreleasedBuffers()).as("buffers of vol0 nobody released").isEmpty();
    assertThat(replica.unreleasedBuffers()).as("buffers of the replica nobody released").isEmpty();
  }

  static byte[] pattern(int length, int seed) {
    byte[] b = new byte[length];
    new Random(seed).nextBytes(b);
    return b;
  }

  @Test
  void writeThenReadReturnsTheSameBytes() throws Exception {
    try (RawNbdClient c = RawNbdClient.open(port, "vol0")) {
      byte[] data = pattern(8192, 1);
      assertThat(c.write(4096, data).error()).isZero();
      RawNbdClient.Reply r = c.read(4096, 8192);
      assertThat(r.error()).isZero();
      assertThat(r.data()).as("data read back at 0x1000").isEqualTo(data);
      assertThat(vol0.snapshot(4096, 8192)).as("device content at 0x1000").isEqualTo(data);
    }
  }

  @Test
  void fuaFlushTrimAndWriteZeroesReachTheDeviceWithTheirFlags() throws Exception {
    try (RawNbdClient c = RawNbdClient.open(port, "vol0")) {
      assertThat(c.call(CMD_WRITE, CMD_FLAG_FUA, 0, 4096, pattern(4096, 2)).error()).isZero();
      assertThat(c.call(CMD_FLUSH, 0, 0, 0, null).error()).isZero();
      assertThat(c.call(CMD_TRIM, 0, 0, 4096, null).error()).isZero();
      assertThat(c.call(CMD_WRITE_ZEROES, 0, 8192, 4096, null).error()).isZero();
      assertThat(
              c.call(CMD_WRITE_ZEROES, CMD_FLAG_NO_HOLE | CMD_FLAG_FUA, 12288, 4096, null).error())
          .isZero();
      // FUA is accepted on any command, even where it means nothing.
      assertThat(c.call(CMD_READ, CMD_FLAG_FUA, 0, 4096, null).data()).isEqualTo(new byte[4096]);
    }
    assertThat(vol0.calls())
        .containsSubsequence(
            new MemoryBlockDevice.Call("write", 0, 4096, true, false),
            new MemoryBlockDevice.Call("flush", 0, 0, false, false),
            new MemoryBlockDevice.Call("trim", 0, 4096, false, true),
            new MemoryBlockDevice.Call("writeZeroes", 8192, 4096, false, true),
            new MemoryBlockDevice.Call("writeZeroes", 12288, 4096, true, false));
    assertThat(vol0.flushes()).isEqualTo(1);
  }

  @Test
  void requestsBeyondTheEndGetTheErrorsTheSpecRecommends() throws Exception {
    try (RawNbdClient c = RawNbdClient.open(port, "vol0")) {
      assertThat(c.read(SIZE - 512, 4096).error()).as("READ across the end").isEqualTo(EINVAL);
      assertThat(c.read(SIZE, 512).error()).as("READ after the end").isEqualTo(EINVAL);
      assertThat(c.call(CMD_READ, 0, -512, 512, null).error())
          .as("READ at offset 2^64-512")
          .isEqualTo(EINVAL);
      assertThat(c.write(SIZE, new byte[512]).error()).as("WRITE after the end").isEqualTo(ENOSPC);
      assertThat(c.write(SIZE - 512, new byte[1024]).error())
          .as("WRITE across the end")
          .isEqualTo(ENOSPC);
      assertThat(c.call(CMD_WRITE_ZEROES, 0, SIZE - 4096, 8192, null).error())
          .as("WRITE_ZEROES across the end")
          .isEqualTo(ENOSPC);
      assertThat(c.call(CMD_TRIM, 0, SIZE, 4096, null).error())
          .as("TRIM after the end")
          .isEqualTo(EINVAL);
      assertThat(c.read(SIZE - 4096, 4096).error()).as("READ of the last block").isZero();
    }
    assertThat(vol0.calls())
        .as("device calls")
        .containsExactly(new MemoryBlockDevice.Call("read", SIZE - 4096, 4096, false, false));
  }

  @Test
  void misalignedAndOversizedRequestsAreRefusedAndTheStreamStaysInSync() throws Exception {
    try (RawNbdClient c = RawNbdClient.open(port, "vol0")) {
      assertThat(c.read(100, 512).error()).as("READ at a misaligned offset").isEqualTo(EINVAL);
      assertThat(c.read(0, 100).error()).as("READ of a misaligned length").isEqualTo(EINVAL);
      assertThat(c.write(0, new byte[100]).error())
          .as("WRITE of a misaligned length")
          .isEqualTo(EINVAL);
      assertThat(c.call(CMD_TRIM, 0, 512, 1, null).error())
          .as("TRIM of a misaligned length")
          .isEqualTo(EINVAL);
      assertThat(c.read(0, (64 << 10) + 512).error())
          .as("READ above the maximum block size")
          .isEqualTo(EINVAL);
      assertThat(c.write(0, pattern((64 << 10) + 512, 3)).error())
          .as("WRITE above the maximum block size")
          .isEqualTo(EINVAL);
      byte[] data = pattern(4096, 4);
      assertThat(c.write(0, data).error()).isZero();
      assertThat(c.read(0, 4096).data()).as("data after the refused requests").isEqualTo(data);
    }
    assertThat(vol0.calls())
        .extracting(MemoryBlockDevice.Call::op)
        .containsExactly("write", "read");
  }

  @Test
  void zeroLengthRequestsSucceedWithoutTouchingTheDevice() throws Exception {
    try (RawNbdClient c = RawNbdClient.open(port, "vol0")) {
      assertThat(c.read(0, 0))
          .satisfies(r -> assertThat(r.error()).isZero())
          .satisfies(r -> assertThat(r.data()).isEmpty());
      assertThat(c.write(4096, new byte[0]).error()).isZero();
      assertThat(c.call(CMD_TRIM, 0, 0, 0, null).error()).isZero();
      assertThat(c.call(CMD_WRITE_ZEROES, 0, SIZE, 0, null).error()).isZero();
      assertThat(c.read(0, 512).error()).as("the stream is still in sync").isZero();
    }
    assertThat(vol0.calls()).extracting(MemoryBlockDevice.Call::op).containsExactly("read");
  }

  @Test
  void unknownCommandsAndFlagsGetEinval() throws Exception {
    try (RawNbdClient c = RawNbdClient.open(port, "vol0")) {
      assertThat(c.call(CMD_CACHE, 0, 0, 4096, null).error()).as("CACHE").isEqualTo(EINVAL);
      assertThat(c.call(CMD_BLOCK_STATUS, 0, 0, 4096, null).error())
          .as("BLOCK_STATUS")
          .isEqualTo(EINVAL);
      assertThat(c.call(99, 0, 0, 0, null).error()).as("command 99").isEqualTo(EINVAL);
      assertThat(c.call(CMD_READ, 1 << 7, 0, 512, null).error())
          .as("READ with an unknown flag")
          .isEqualTo(EINVAL);
      assertThat(c.call(CMD_WRITE, CMD_FLAG_NO_HOLE, 0, 512, new byte[512]).error())
          .as("WRITE with NO_HOLE")
          .isEqualTo(EINVAL);
      assertThat(c.read(0, 512).error()).isZero();
    }
  }

  @Test
  void theReadOnlyExportRefusesModificationsWithEperm() throws Exception {
    try (RawNbdClient c = RawNbdClient.open(port, "replica")) {
      assertThat(c.write(0, new byte[4096]).error()).as("WRITE").isEqualTo(EPERM);
      assertThat(c.call(CMD_TRIM, 0, 0, 4096, null).error()).as("TRIM").isEqualTo(EPERM);
      assertThat(c.call(CMD_WRITE_ZEROES, 0, 0, 4096, null).error())
          .as("WRITE_ZEROES")
          .isEqualTo(EPERM);
      assertThat(c.call(CMD_FLUSH, 0, 0, 0, null).error()).as("FLUSH").isZero();
      assertThat(c.read(0, 4096).error()).as("READ").isZero();
    }
    assertThat(replica.calls())
        .extracting(MemoryBlockDevice.Call::op)
        .containsExactly("flush", "read");
  }

  @Test
  void deviceErrorsMapToTheirNbdErrorsAndAnythingElseToEio() throws Exception {
    Map<DeviceError, Integer> expected = new HashMap<>();
    expected.put(DeviceError.EPERM, EPERM);
    expected.put(DeviceError.EIO, EIO);
    expected.put(DeviceError.ENOSPC, ENOSPC);
    expected.put(DeviceError.EINVAL, EINVAL);
    expected.put(DeviceError.ESHUTDOWN, ESHUTDOWN);
    try (RawNbdClient c = RawNbdClient.open(port, "vol0")) {
      for (DeviceError e : DeviceError.values()) {
        vol0.failNext(() -> new DeviceException(e, "injected " + e));
        assertThat(c.write(0, new byte[4096]).error())
            .as("WRITE failing with " + e)
            .isEqualTo(expected.get(e));
      }
      vol0.failNext(() -> new IllegalStateException("injected bug"));
      assertThat(c.read(0, 4096))
          .satisfies(r -> assertThat(r.error()).as("READ failing with a bug").isEqualTo(EIO))
          .satisfies(r -> assertThat(r.data()).isEmpty());
      vol0.throwNext(new IllegalStateException("injected synchronous bug"));
      assertThat(c.call(CMD_FLUSH, 0, 0, 0, null).error())
          .as("FLUSH throwing instead of failing")
          .isEqualTo(EIO);
      vol0.throwNext(new DeviceException(DeviceError.ENOSPC, "injected synchronous ENOSPC"));
      assertThat(c.write(0, new byte[512]).error())
          .as("WRITE throwing a DeviceException")
          .isEqualTo(ENOSPC);
      assertThat(c.read(0, 512).error()).as("the connection goes on").isZero();
    }
  }

  @Test
  void repliesGoOutInCompletionOrderNotRequestOrder() throws Exception {
    vol0.fill(0, pattern(8192, 5));
    vol0.hold();
    try (RawNbdClient c = RawNbdClient.open(port, "vol0")) {
      long first = c.send(CMD_READ, 0, 0, 4096, null);
      long second = c.send(CMD_READ, 0, 4096, 4096, null);
      MemoryBlockDevice.Held a = vol0.awaitHeld();
      MemoryBlockDevice.Held b = vol0.awaitHeld();
      assertThat(a.call.offset()).isZero();
      assertThat(b.call.offset()).isEqualTo(4096);
      b.release();
      RawNbdClient.Reply r1 = c.reply();
      assertThat(r1.cookie()).as("cookie of the first reply").isEqualTo(second);
      assertThat(r1.data()).isEqualTo(Arrays.copyOfRange(pattern(8192, 5), 4096, 8192));
      a.release();
      RawNbdClient.Reply r2 = c.reply();
      assertThat(r2.cookie()).as("cookie of the second reply").isEqualTo(first);
      assertThat(r2.data()).isEqualTo(Arrays.copyOfRange(pattern(8192, 5), 0, 4096));
    }
  }

  @Test
  void manyPipelinedRequestsAllGetTheirOwnAnswers() throws Exception {
    try (RawNbdClient c = RawNbdClient.open(port, "vol0")) {
      int n = 200;
      Map<Long, Integer> block = new HashMap<>();
      for (int i = 0; i < n; i++) {
        block.put(c.send(CMD_WRITE, 0, i * 4096L, 4096, pattern(4096, 100 + i)), i);
      }
      for (int i = 0; i < n; i++) {
        RawNbdClient.Reply r = c.reply();
        assertThat(r.error()).as("WRITE reply " + i).isZero();
        assertThat(block.remove(r.cookie())).as("a reply for an outstanding cookie").isNotNull();
      }
      List<Long> reads = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        reads.add(c.send(CMD_READ, 0, i * 4096L, 4096, null));
      }
      for (int i = 0; i < n; i++) {
        RawNbdClient.Reply r = c.reply();
        int index = reads.indexOf(r.cookie());
        assertThat(r.data()).as("block %d read back", index).isEqualTo(pattern(4096, 100 + index));
      }
    }
  }

  @Test
  void noMoreThanMaxInFlightRequestsReachTheDeviceAtOnce() throws Exception {
    restart(NbdServerConfig.listen("127.0.0.1", 0).withMaxInFlightRequests(2));
    vol0.hold();
    try (RawNbdClient c = RawNbdClient.open(port, "vol0")) {
      for (int i = 0; i < 6; i++) {
        c.send(CMD_WRITE, 0, i * 4096L, 4096, pattern(4096, i));
      }
      // The device gets the requests two at a time: each completion lets exactly one more in.
      List<MemoryBlockDevice.Held> held =
          new ArrayList<>(List.of(vol0.awaitHeld(), vol0.awaitHeld()));
      for (int i = 0; i < 6; i++) {
        MemoryBlockDevice.Held h = held.removeFirst();
        assertThat(h.call.offset()).as("operation %d", i).isEqualTo(i * 4096L);
        h.release();
        assertThat(c.reply().error()).isZero();
        if (i < 4) {
          held.add(vol0.awaitHeld());
        }
      }
    }
    assertThat(vol0.maxOutstanding()).as("most operations with the device at once").isEqualTo(2);
    for (int i = 0; i < 6; i++) {
      assertThat(vol0.snapshot(i * 4096, 4096)).as("block %d", i).isEqualTo(pattern(4096, i));
    }
  }

  @Test
  void discFinishesOutstandingRequestsThenCloses() throws Exception {
    vol0.hold();
    try (RawNbdClient c = RawNbdClient.open(port, "vol0")) {
      byte[] data = pattern(4096, 6);
      long cookie = c.send(CMD_WRITE, 0, 0, 4096, data);
      MemoryBlockDevice.Held h = vol0.awaitHeld();
      c.disconnect();
      h.release();
      assertThat(c.reply().cookie()).as("reply to the WRITE sent before DISC").isEqualTo(cookie);
      assertThat(c.closedByServer()).as("connection closed after DISC").isTrue();
      assertThat(vol0.snapshot(0, 4096)).isEqualTo(data);
    }
  }

  @Test
  void closingTheServerFinishesRequestsWithTheDeviceAndClosesConnections() throws Exception {
    vol0.hold();
    RawNbdClient c = RawNbdClient.open(port, "vol0");
    try (c) {
      long cookie = c.send(CMD_WRITE, 0, 0, 4096, pattern(4096, 7));
      MemoryBlockDevice.Held h = vol0.awaitHeld();
      Thread closer = Thread.ofPlatform().name("test-server-close").start(server::close);
      h.release();
      RawNbdClient.Reply r = c.reply();
      assertThat(r.cookie()).isEqualTo(cookie);
      assertThat(r.error()).as("the in-flight WRITE completes normally").isZero();
      assertThat(c.closedByServer()).isTrue();
      closer.join(20_000);
      assertThat(closer.isAlive()).as("server close() still running").isFalse();
    }
  }

  @Test
  void clientVanishingMidRequestLeavesTheServerServingOthers() throws Exception {
    vol0.hold();
    try (RawNbdClient good = RawNbdClient.open(port, "vol0")) {
      RawNbdClient bad = RawNbdClient.open(port, "vol0");
      bad.send(CMD_WRITE, 0, 0, 4096, pattern(4096, 8));
      MemoryBlockDevice.Held inFlight = vol0.awaitHeld();
      // Half of a WRITE, then gone, with one request still with the device.
      byte[] header = new byte[28 + 100];
      java.nio.ByteBuffer.wrap(header)
          .putInt(NbdProtocol.REQUEST_MAGIC)
          .putShort((short) 0)
          .putShort((short) CMD_WRITE)
          .putLong(9)
          .putLong(4096)
          .putInt(4096);
      bad.sendRaw(header);
      bad.close();
      inFlight.release();
      long cookie = good.send(CMD_WRITE, 0, 8192, 4096, pattern(4096, 9));
      vol0.awaitHeld().release();
      assertThat(good.reply().cookie()).isEqualTo(cookie);
    }
  }

  @Test
  void exportNameClientsWithAndWithoutZeroesAreServed() throws Exception {
    for (int flags :
        new int[] {
          NbdProtocol.CLIENT_FLAG_FIXED_NEWSTYLE,
          NbdProtocol.CLIENT_FLAG_FIXED_NEWSTYLE | NbdProtocol.CLIENT_FLAG_NO_ZEROES,
          0
        }) {
      try (RawNbdClient c = RawNbdClient.connect(port)) {
        c.clientFlags(flags);
        c.option(
            NbdProtocol.OPT_EXPORT_NAME, "vol0".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        java.nio.ByteBuffer answer = java.nio.ByteBuffer.wrap(c.readRaw(10));
        assertThat(answer.getLong()).isEqualTo(SIZE);
        assertThat(answer.getShort() & NbdProtocol.TF_HAS_FLAGS)
            .isEqualTo(NbdProtocol.TF_HAS_FLAGS);
        if ((flags & NbdProtocol.CLIENT_FLAG_NO_ZEROES) == 0) {
          assertThat(c.readRaw(124)).as("reserved zeroes").isEqualTo(new byte[124]);
        }
        assertThat(c.read(0, 512).error())
            .as("READ after EXPORT_NAME with client flags %d", flags)
            .isZero();
      }
    }
  }
}
