package io.kagami.replicator.nbd;

import static io.kagami.replicator.nbd.EmbeddedNbd.channel;
import static io.kagami.replicator.nbd.EmbeddedNbd.clientFlags;
import static io.kagami.replicator.nbd.EmbeddedNbd.option;
import static io.kagami.replicator.nbd.EmbeddedNbd.receive;
import static io.kagami.replicator.nbd.EmbeddedNbd.sent;
import static io.kagami.replicator.nbd.NbdProtocol.CLIENT_FLAG_FIXED_NEWSTYLE;
import static io.kagami.replicator.nbd.NbdProtocol.CLIENT_FLAG_NO_ZEROES;
import static io.kagami.replicator.nbd.NbdProtocol.INFO_BLOCK_SIZE;
import static io.kagami.replicator.nbd.NbdProtocol.INFO_DESCRIPTION;
import static io.kagami.replicator.nbd.NbdProtocol.INFO_EXPORT;
import static io.kagami.replicator.nbd.NbdProtocol.INFO_NAME;
import static io.kagami.replicator.nbd.NbdProtocol.OPT_ABORT;
import static io.kagami.replicator.nbd.NbdProtocol.OPT_EXPORT_NAME;
import static io.kagami.replicator.nbd.NbdProtocol.OPT_GO;
import static io.kagami.replicator.nbd.NbdProtocol.OPT_INFO;
import static io.kagami.replicator.nbd.NbdProtocol.OPT_LIST;
import static io.kagami.replicator.nbd.NbdProtocol.REP_ACK;
import static io.kagami.replicator.nbd.NbdProtocol.REP_ERR_INVALID;
import static io.kagami.replicator.nbd.NbdProtocol.REP_ERR_UNKNOWN;
import static io.kagami.replicator.nbd.NbdProtocol.REP_ERR_UNSUP;
import static io.kagami.replicator.nbd.NbdProtocol.REP_INFO;
import static io.kagami.replicator.nbd.NbdProtocol.REP_SERVER;
import static io.kagami.replicator.nbd.NbdProtocol.TF_CAN_MULTI_CONN;
import static io.kagami.replicator.nbd.NbdProtocol.TF_HAS_FLAGS;
import static io.kagami.replicator.nbd.NbdProtocol.TF_READ_ONLY;
import static io.kagami.replicator.nbd.NbdProtocol.TF_SEND_FLUSH;
import static io.kagami.replicator.nbd.NbdProtocol.TF_SEND_FUA;
import static io.kagami.replicator.nbd.NbdProtocol.TF_SEND_TRIM;
import static io.kagami.replicator.nbd.NbdProtocol.TF_SEND_WRITE_ZEROES;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The handshake without sockets: what the server sends for each option, byte by byte. */
class NbdHandshakeHandlerTest {
  static final int SIZE = 1 << 20;

  MemoryBlockDevice vol0;
  MemoryBlockDevice replica;
  NbdServerConfig config = NbdServerConfig.listen("127.0.0.1", 0);
  EmbeddedChannel ch;
  LogCapture log;

  @BeforeEach
  void setUp() {
    vol0 = MemoryBlockDevice.writable("vol0", SIZE);
    replica = MemoryBlockDevice.readOnly("replica", SIZE / 2);
    log = LogCapture.nbd();
    ch = channel(config, Exports.of(vol0, replica));
  }

  @AfterEach
  void tearDown() {
    ch.finishAndReleaseAll();
    vol0.close();
    replica.close();
    log.close();
  }

  record Reply(int option, int type, byte[] data) {
    ByteBuffer body() {
      return ByteBuffer.wrap(data);
    }
  }

  static List<Reply> replies(ByteBuf b) {
    List<Reply> out = new ArrayList<>();
    while (b.isReadable()) {
      assertThat(b.readLong()).as("option reply magic").isEqualTo(NbdProtocol.OPTION_REPLY_MAGIC);
      int option = b.readInt();
      int type = b.readInt();
      byte[] data = new byte[b.readInt()];
      b.readBytes(data);
      out.add(new Reply(option, type, data));
    }
    b.release();
    return out;
  }

  /** Consumes the greeting and sends fixed-newstyle client flags. */
  void greet() {
    ByteBuf greeting = sent(ch);
    assertThat(greeting.readableBytes()).isEqualTo(18);
    greeting.release();
    receive(ch, clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES));
  }

  @Test
  void greetsWithNewstyleMagicAndFixedNewstyleNoZeroesFlags() {
    ByteBuf g = sent(ch);
    assertThat(g.readLong()).isEqualTo(0x4e42444d41474943L);
    assertThat(g.readLong()).isEqualTo(0x49484156454f5054L);
    assertThat(g.readUnsignedShort()).isEqualTo(3);
    assertThat(g.isReadable()).isFalse();
    g.release();
  }

  @Test
  void goAnswersExportBlockSizeNameAndDescriptionThenEntersTransmission() {
    greet();
    receive(
        ch,
        option(OPT_GO, RawNbdClient.goData("vol0", INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE)));
    List<Reply> r = replies(sent(ch));
    assertThat(r).extracting(Reply::option).containsOnly(OPT_GO);
    assertThat(r)
        .extracting(Reply::type)
        .containsExactly(REP_INFO, REP_INFO, REP_INFO, REP_INFO, REP_ACK);
    ByteBuffer export = r.get(0).body();
    assertThat(export.getShort()).isEqualTo((short) INFO_EXPORT);
    assertThat(export.getLong()).as("export size").isEqualTo(SIZE);
    assertThat(export.getShort() & 0xffff)
        .as("transmission flags")
        .isEqualTo(
            TF_HAS_FLAGS
                | TF_SEND_FLUSH
                | TF_SEND_FUA
                | TF_SEND_TRIM
                | TF_SEND_WRITE_ZEROES
                | TF_CAN_MULTI_CONN);
    ByteBuffer sizes = r.get(1).body();
    assertThat(sizes.getShort()).isEqualTo((short) INFO_BLOCK_SIZE);
    assertThat(new int[] {sizes.getInt(), sizes.getInt(), sizes.getInt()})
        .as("minimum, preferred, maximum")
        .containsExactly(512, 4096, 32 << 20);
    assertThat(r.get(2).body().getShort()).isEqualTo((short) INFO_NAME);
    assertThat(new String(r.get(2).data(), 2, r.get(2).data().length - 2, StandardCharsets.UTF_8))
        .isEqualTo("vol0");
    assertThat(r.get(3).body().getShort()).isEqualTo((short) INFO_DESCRIPTION);
    assertThat(ch.pipeline().names())
        .contains(NbdServer.REQUESTS_HANDLER, NbdServer.SESSION_HANDLER)
        .doesNotContain(NbdServer.HANDSHAKE_HANDLER);
  }

  @Test
  void goWithoutInformationRequestsStillSendsExportAndBlockSizes() {
    greet();
    receive(ch, option(OPT_GO, RawNbdClient.goData("vol0")));
    List<Reply> r = replies(sent(ch));
    assertThat(r)
        .extracting(x -> x.type() == REP_INFO ? (int) x.body().getShort() : -1)
        .containsExactly(INFO_EXPORT, INFO_BLOCK_SIZE, -1);
    assertThat(r.getLast().type()).isEqualTo(REP_ACK);
  }

  @Test
  void infoDescribesWithoutEnteringTransmissionAndTheReadOnlyExportSaysSo() {
    greet();
    receive(ch, option(OPT_INFO, RawNbdClient.goData("replica")));
    List<Reply> r = replies(sent(ch));
    ByteBuffer export = r.get(0).body();
    export.getShort();
    assertThat(export.getLong()).isEqualTo(SIZE / 2);
    int flags = export.getShort() & 0xffff;
    assertThat(flags & TF_READ_ONLY).as("READ_ONLY").isNotZero();
    assertThat(flags & (TF_SEND_TRIM | TF_SEND_WRITE_ZEROES | TF_SEND_FUA))
        .as("write features on a read-only export")
        .isZero();
    assertThat(r.getLast().type()).isEqualTo(REP_ACK);
    assertThat(ch.pipeline().names()).contains(NbdServer.HANDSHAKE_HANDLER);
    // Still haggling: GO works after INFO.
    receive(ch, option(OPT_GO, RawNbdClient.goData("vol0")));
    assertThat(replies(sent(ch)).getLast().type()).isEqualTo(REP_ACK);
    assertThat(ch.pipeline().names()).contains(NbdServer.SESSION_HANDLER);
  }

  @Test
  void anUnknownExportGetsErrUnknownAndTheHandshakeGoesOn() {
    greet();
    receive(ch, option(OPT_GO, RawNbdClient.goData("nope")));
    List<Reply> r = replies(sent(ch));
    assertThat(r).hasSize(1);
    assertThat(r.get(0).type()).isEqualTo(REP_ERR_UNKNOWN);
    assertThat(new String(r.get(0).data(), StandardCharsets.UTF_8))
        .contains("nope")
        .contains("vol0");
    receive(ch, option(OPT_LIST, new byte[0]));
    List<Reply> list = replies(sent(ch));
    assertThat(list).extracting(Reply::type).containsExactly(REP_SERVER, REP_SERVER, REP_ACK);
    assertThat(list.get(0).data())
        .isEqualTo(
            ByteBuffer.allocate(8).putInt(4).put("vol0".getBytes(StandardCharsets.UTF_8)).array());
    assertThat(ch.isActive()).isTrue();
  }

  @Test
  void theEmptyNameIsTheDefaultExport() {
    greet();
    receive(ch, option(OPT_GO, RawNbdClient.goData("", INFO_NAME)));
    List<Reply> r = replies(sent(ch));
    assertThat(r.get(0).body().getLong(2)).as("size of the default export").isEqualTo(SIZE);
    assertThat(r.get(2).data())
        .as("canonical name")
        .isEqualTo(
            ByteBuffer.allocate(6)
                .putShort((short) INFO_NAME)
                .put("vol0".getBytes(StandardCharsets.UTF_8))
                .array());
  }

  @Test
  void unsupportedOptionsGetErrUnsupSoClientsFallBack() {
    greet();
    int[] unsupported = {
      NbdProtocol.OPT_STRUCTURED_REPLY,
      NbdProtocol.OPT_STARTTLS,
      NbdProtocol.OPT_EXTENDED_HEADERS,
      NbdProtocol.OPT_LIST_META_CONTEXT,
      NbdProtocol.OPT_SET_META_CONTEXT,
      4,
      42
    };
    for (int o : unsupported) {
      receive(ch, option(o, new byte[] {0, 0, 0, 0}));
    }
    List<Reply> r = replies(sent(ch));
    assertThat(r)
        .extracting(Reply::option)
        .containsExactly(
            unsupported[0],
            unsupported[1],
            unsupported[2],
            unsupported[3],
            unsupported[4],
            unsupported[5],
            unsupported[6]);
    assertThat(r).extracting(Reply::type).containsOnly(REP_ERR_UNSUP);
    receive(ch, option(OPT_GO, RawNbdClient.goData("vol0")));
    assertThat(replies(sent(ch)).getLast().type()).isEqualTo(REP_ACK);
  }

  @Test
  void malformedOptionsGetErrInvalidAndTheHandshakeGoesOn() {
    greet();
    receive(ch, option(OPT_LIST, new byte[] {1}));
    receive(ch, option(OPT_GO, new byte[] {0, 0}));
    receive(ch, option(OPT_GO, ByteBuffer.allocate(10).putInt(100).array()));
    receive(
        ch,
        option(
            OPT_INFO,
            ByteBuffer.allocate(12)
                .putInt(4)
                .put("vol0".getBytes(StandardCharsets.UTF_8))
                .putShort((short) 3)
                .array()));
    List<Reply> r = replies(sent(ch));
    assertThat(r)
        .extracting(Reply::type)
        .containsExactly(REP_ERR_INVALID, REP_ERR_INVALID, REP_ERR_INVALID, REP_ERR_INVALID);
    assertThat(ch.isActive()).isTrue();
  }

  @Test
  void exportNameAnswersSizeFlagsAndZeroesUnlessNoZeroes() {
    sent(ch).release();
    receive(ch, clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE));
    receive(ch, option(OPT_EXPORT_NAME, "vol0".getBytes(StandardCharsets.UTF_8)));
    ByteBuf b = sent(ch);
    assertThat(b.readableBytes()).isEqualTo(134);
    assertThat(b.readLong()).isEqualTo(SIZE);
    assertThat(b.readUnsignedShort() & TF_HAS_FLAGS).isEqualTo(TF_HAS_FLAGS);
    b.release();
    assertThat(ch.pipeline().names()).contains(NbdServer.SESSION_HANDLER);
  }

  @Test
  void exportNameForAnUnknownExportHangsUpWithOneLogLine() {
    greet();
    receive(ch, option(OPT_EXPORT_NAME, "nope\u001b[31m".getBytes(StandardCharsets.UTF_8)));
    ByteBuf answer = sent(ch);
    assertThat(answer.readableBytes()).as("bytes sent for an unknown EXPORT_NAME").isZero();
    answer.release();
    assertThat(ch.isActive()).isFalse();
    assertThat(log.matching("unknown export"))
        .hasSize(1)
        .allSatisfy(l -> assertThat(l).contains("\"nope?[31m\"").doesNotContain("\u001b"));
  }

  @Test
  void abortIsAcknowledgedAndTheConnectionCloses() {
    greet();
    receive(ch, option(OPT_ABORT, new byte[0]));
    List<Reply> r = replies(sent(ch));
    assertThat(r).extracting(Reply::type).containsExactly(REP_ACK);
    assertThat(ch.isActive()).isFalse();
    assertThat(log.lines()).noneMatch(l -> l.startsWith("WARNING") || l.startsWith("INFO"));
  }

  @Test
  void unknownClientFlagsEndTheConnection() {
    sent(ch).release();
    receive(ch, clientFlags(0x10 | CLIENT_FLAG_FIXED_NEWSTYLE));
    assertThat(ch.isActive()).isFalse();
    assertThat(log.matching("unsupported client flags 0x00000011")).hasSize(1);
  }

  @Test
  void aBadOptionMagicEndsTheConnection() {
    greet();
    receive(
        ch, ByteBuffer.allocate(16).putLong(0x1122334455667788L).putInt(OPT_GO).putInt(0).array());
    assertThat(ch.isActive()).isFalse();
    assertThat(log.matching("bad option magic 0x1122334455667788")).hasSize(1);
  }

  @Test
  void anAbsurdOptionLengthEndsTheConnectionWithoutWaitingForTheData() {
    greet();
    receive(
        ch,
        ByteBuffer.allocate(16)
            .putLong(NbdProtocol.IHAVEOPT)
            .putInt(OPT_GO)
            .putInt(0xfffffff0)
            .array());
    assertThat(ch.isActive()).isFalse();
    assertThat(
            log.matching(
                "NBD_OPT_GO carries 4294967280 bytes of data, more than the limit of 65536"))
        .hasSize(1);
  }

  @Test
  void aStalledHandshakeIsCutOffAfterTheTimeout() {
    greet();
    receive(ch, new byte[] {0x49, 0x48}); // half an option header, then nothing
    ch.advanceTimeBy(config.handshakeTimeout().toSeconds() - 1, TimeUnit.SECONDS);
    ch.runScheduledPendingTasks();
    assertThat(ch.isActive()).as("open before the timeout").isTrue();
    ch.advanceTimeBy(2, TimeUnit.SECONDS);
    ch.runScheduledPendingTasks();
    assertThat(ch.isActive()).as("open after the timeout").isFalse();
    assertThat(log.matching("handshake not completed within 30 s")).hasSize(1);
  }

  @Test
  void aClientThatDisconnectsMidHandshakeIsLoggedOnce() {
    greet();
    receive(ch, new byte[] {0x49, 0x48});
    ch.close();
    assertThat(
            log.matching(
                "disconnected during the handshake (after 0 options, in the middle of the next one)"))
        .hasSize(1);
  }

  @Test
  void aHandshakeDeliveredOneByteAtATimeWorksAndPipelinedRequestsReachTheSession() {
    vol0.hold();
    sent(ch).release();
    ByteBuffer all = ByteBuffer.allocate(4 + 16 + 10 + 28);
    all.put(clientFlags(CLIENT_FLAG_FIXED_NEWSTYLE | CLIENT_FLAG_NO_ZEROES));
    all.put(option(OPT_GO, RawNbdClient.goData("vol0")));
    all.putInt(NbdProtocol.REQUEST_MAGIC)
        .putShort((short) 0)
        .putShort((short) NbdProtocol.CMD_READ)
        .putLong(77)
        .putLong(4096)
        .putInt(512);
    for (byte b : all.array()) {
      receive(ch, new byte[] {b});
    }
    assertThat(replies(sent(ch)).getLast().type()).isEqualTo(REP_ACK);
    assertThat(vol0.heldCount()).as("READs handed to the device").isEqualTo(1);
  }
}
