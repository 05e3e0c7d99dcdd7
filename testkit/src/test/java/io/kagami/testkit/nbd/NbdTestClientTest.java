package io.kagami.testkit.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The client against a scripted server on loopback: each test plays the server's side of one
 * connection byte by byte, so reply order, errors and hang-ups are exactly what the test says.
 */
class NbdTestClientTest {
  private static final long SIZE = 1 << 20;
  private static final int FLAGS =
      NbdProtocol.FLAG_HAS_FLAGS
          | NbdProtocol.FLAG_SEND_FLUSH
          | NbdProtocol.FLAG_SEND_FUA
          | NbdProtocol.FLAG_SEND_TRIM;

  private ServerSocket listener;

  @BeforeEach
  void listen() throws IOException {
    listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
  }

  @AfterEach
  void stop() throws IOException {
    listener.close();
  }

  @Test
  void handshakeReportsExportSizeFlagsAndBlockSizes() throws Exception {
    CompletableFuture<Void> server =
        serve(
            c -> {
              byte[] go = c.handshake(SIZE, FLAGS);
              assertThat(new String(go, 4, go.length - 8, StandardCharsets.UTF_8))
                  .isEqualTo("vol0");
              c.awaitDisc();
            });
    try (NbdTestClient client = connect()) {
      assertThat(client.exportSize()).isEqualTo(SIZE);
      assertThat(client.transmissionFlags()).isEqualTo(FLAGS);
      assertThat(client.hasFlag(NbdProtocol.FLAG_SEND_FUA)).isTrue();
      assertThat(client.hasFlag(NbdProtocol.FLAG_SEND_WRITE_ZEROES)).isFalse();
      assertThat(client.isReadOnly()).isFalse();
      assertThat(client.blockSizes()).contains(new NbdTestClient.BlockSizes(1, 4096, 32 << 20));
    }
    server.get(5, TimeUnit.SECONDS);
  }

  @Test
  void outOfOrderRepliesCompleteTheFutureWithTheirHandle() throws Exception {
    CompletableFuture<Void> server =
        serve(
            c -> {
              c.handshake(SIZE, FLAGS);
              List<Request> requests = new ArrayList<>();
              for (int i = 0; i < 4; i++) {
                requests.add(c.readRequest());
              }
              assertThat(requests)
                  .extracting(Request::type)
                  .containsExactly(
                      NbdProtocol.CMD_READ,
                      NbdProtocol.CMD_READ,
                      NbdProtocol.CMD_WRITE,
                      NbdProtocol.CMD_FLUSH);
              assertThat(requests.get(2).payload()).containsExactly(9, 8, 7);
              assertThat(requests.get(2).flags()).isEqualTo(NbdProtocol.CMD_FLAG_FUA);
              // Answer newest first.
              c.reply(requests.get(3).handle(), 0, new byte[0]);
              c.reply(requests.get(2).handle(), 0, new byte[0]);
              c.reply(requests.get(1).handle(), 0, new byte[] {2, 2, 2, 2});
              c.reply(requests.get(0).handle(), 0, new byte[] {1, 1});
              c.awaitDisc();
            });
    try (NbdTestClient client = connect()) {
      CompletableFuture<byte[]> first = client.read(0, 2);
      CompletableFuture<byte[]> second = client.read(4096, 4);
      CompletableFuture<Void> write =
          client.write(8192, new byte[] {9, 8, 7}, NbdProtocol.CMD_FLAG_FUA);
      CompletableFuture<Void> flush = client.flush();
      CompletableFuture.allOf(first, second, write, flush).get(5, TimeUnit.SECONDS);
      assertThat(first.get()).containsExactly(1, 1);
      assertThat(second.get()).containsExactly(2, 2, 2, 2);
      assertThat(client.inFlight()).isZero();
    }
    server.get(5, TimeUnit.SECONDS);
  }

  @Test
  void errorReplyFailsOnlyItsRequestWithTheNbdErrorCode() throws Exception {
    CompletableFuture<Void> server =
        serve(
            c -> {
              c.handshake(SIZE, FLAGS);
              Request bad = c.readRequest();
              Request good = c.readRequest();
              c.reply(bad.handle(), NbdProtocol.ENOSPC, null);
              c.reply(good.handle(), 0, new byte[0]);
              c.awaitDisc();
            });
    try (NbdTestClient client = connect()) {
      CompletableFuture<Void> bad = client.writeZeroes(0x3f000, 4096);
      CompletableFuture<Void> good = client.trim(0, 4096);
      assertThatThrownBy(() -> bad.get(5, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .cause()
          .isInstanceOfSatisfying(
              NbdErrorException.class,
              e -> {
                assertThat(e.errorCode()).isEqualTo(NbdProtocol.ENOSPC);
                assertThat(e.command()).isEqualTo(NbdProtocol.CMD_WRITE_ZEROES);
                assertThat(e)
                    .hasMessage(
                        "NBD WRITE_ZEROES at offset 0x3f000, length 4096 failed: ENOSPC (28)");
              });
      good.get(5, TimeUnit.SECONDS);
    }
    server.get(5, TimeUnit.SECONDS);
  }

  @Test
  void refusedExportFailsTheHandshakeNamingTheReply() throws Exception {
    CompletableFuture<Void> server =
        serve(
            c -> {
              c.greet();
              c.readOption();
              c.optionReply(
                  NbdProtocol.REP_ERR_UNKNOWN,
                  "no export named vol0".getBytes(StandardCharsets.UTF_8));
            });
    assertThatThrownBy(this::connect)
        .isInstanceOfSatisfying(
            NbdHandshakeException.class,
            e -> assertThat(e.replyType()).isEqualTo(NbdProtocol.REP_ERR_UNKNOWN))
        .hasMessage("server refused export \"vol0\": NBD_REP_ERR_UNKNOWN (no export named vol0)");
    server.get(5, TimeUnit.SECONDS);
  }

  @Test
  void serverHangingUpFailsPendingRequestsAndCompletesClosed() throws Exception {
    CompletableFuture<Void> server =
        serve(
            c -> {
              c.handshake(SIZE, FLAGS);
              c.readRequest();
            });
    try (NbdTestClient client = connect()) {
      CompletableFuture<byte[]> read = client.read(0, 512);
      server.get(5, TimeUnit.SECONDS);
      client.closed().get(5, TimeUnit.SECONDS);
      assertThatThrownBy(() -> read.get(5, TimeUnit.SECONDS))
          .cause()
          .isInstanceOf(IOException.class)
          .hasMessageContaining("server closed the connection");
      assertThat(client.closeReason()).contains("server closed the connection");
      assertThatThrownBy(() -> client.flush().get(5, TimeUnit.SECONDS))
          .cause()
          .hasMessageContaining("ended before the reply arrived");
    }
  }

  @Test
  void replyForAnUnknownHandleIsAProtocolViolation() throws Exception {
    CompletableFuture<Void> server =
        serve(
            c -> {
              c.handshake(SIZE, FLAGS);
              Request r = c.readRequest();
              c.reply(r.handle() + 1000, 0, new byte[0]);
              c.awaitEnd();
            });
    try (NbdTestClient client = connect()) {
      CompletableFuture<Void> flush = client.flush();
      assertThatThrownBy(() -> flush.get(5, TimeUnit.SECONDS))
          .cause()
          .hasMessageContaining("NBD protocol violation by the server: reply (error 0) for handle");
    }
    server.get(5, TimeUnit.SECONDS);
  }

  @Test
  void rawBytesGoOutVerbatimAndAnnouncedRepliesAreMatched() throws Exception {
    long handle = NbdTestClient.rawHandle(7);
    CompletableFuture<Void> server =
        serve(
            c -> {
              c.handshake(SIZE, FLAGS);
              Request r = c.readRequest();
              assertThat(r.type()).isEqualTo(42);
              assertThat(r.handle()).isEqualTo(handle);
              c.reply(handle, NbdProtocol.EINVAL, null);
              c.awaitDisc();
            });
    try (NbdTestClient client = connect()) {
      CompletableFuture<byte[]> reply = client.expectReply(handle, 0);
      client.sendRaw(NbdProtocol.requestHeader(0, 42, handle, 0, 0));
      assertThatThrownBy(() -> reply.get(5, TimeUnit.SECONDS))
          .cause()
          .isInstanceOfSatisfying(
              NbdErrorException.class,
              e -> assertThat(e.errorCode()).isEqualTo(NbdProtocol.EINVAL));
    }
    server.get(5, TimeUnit.SECONDS);
  }

  @Test
  void requestsAfterDisconnectFailAtOnce() throws Exception {
    CompletableFuture<Void> server =
        serve(
            c -> {
              c.handshake(SIZE, FLAGS);
              c.awaitDisc();
            });
    try (NbdTestClient client = connect()) {
      client.disconnect();
      assertThatThrownBy(() -> client.read(0, 512).get(5, TimeUnit.SECONDS))
          .cause()
          .hasMessageContaining("after NBD_CMD_DISC");
      server.get(5, TimeUnit.SECONDS);
      client.closed().get(5, TimeUnit.SECONDS);
    }
  }

  private NbdTestClient connect() throws IOException {
    return NbdTestClient.connect(
        new InetSocketAddress(listener.getInetAddress(), listener.getLocalPort()), "vol0");
  }

  private interface Script {
    void play(Conversation c) throws Exception;
  }

  /**
   * Accepts one connection and plays {@code script} on it; the future carries the script's failure.
   */
  private CompletableFuture<Void> serve(Script script) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    Thread.ofVirtual()
        .name("scripted-nbd-server")
        .start(
            () -> {
              try (Socket s = listener.accept()) {
                s.setSoTimeout(5000);
                script.play(
                    new Conversation(
                        new DataInputStream(s.getInputStream()),
                        new DataOutputStream(s.getOutputStream())));
                done.complete(null);
              } catch (Throwable t) {
                done.completeExceptionally(t);
              }
            });
    return done;
  }

  private record Request(
      int flags, int type, long handle, long offset, int length, byte[] payload) {}

  /** The server's side of one connection. */
  private record Conversation(DataInputStream in, DataOutputStream out) {
    void greet() throws IOException {
      out.writeLong(NbdProtocol.NBDMAGIC);
      out.writeLong(NbdProtocol.IHAVEOPT);
      out.writeShort(NbdProtocol.FLAG_FIXED_NEWSTYLE | NbdProtocol.FLAG_NO_ZEROES);
      out.flush();
      assertThat(in.readInt())
          .isEqualTo(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | NbdProtocol.FLAG_C_NO_ZEROES);
    }

    byte[] readOption() throws IOException {
      assertThat(in.readLong()).isEqualTo(NbdProtocol.IHAVEOPT);
      assertThat(in.readInt()).isEqualTo(NbdProtocol.OPT_GO);
      return in.readNBytes(in.readInt());
    }

    void optionReply(int type, byte[] data) throws IOException {
      out.writeLong(NbdProtocol.OPTION_REPLY_MAGIC);
      out.writeInt(NbdProtocol.OPT_GO);
      out.writeInt(type);
      out.writeInt(data.length);
      out.write(data);
      out.flush();
    }

    /** Completes a handshake; returns the NBD_OPT_GO data the client sent. */
    byte[] handshake(long size, int flags) throws IOException {
      greet();
      byte[] go = readOption();
      ByteBuffer blockSizes =
          ByteBuffer.allocate(14)
              .putShort((short) NbdProtocol.INFO_BLOCK_SIZE)
              .putInt(1)
              .putInt(4096)
              .putInt(32 << 20);
      optionReply(NbdProtocol.REP_INFO, blockSizes.array());
      ByteBuffer export =
          ByteBuffer.allocate(12)
              .putShort((short) NbdProtocol.INFO_EXPORT)
              .putLong(size)
              .putShort((short) flags);
      optionReply(NbdProtocol.REP_INFO, export.array());
      optionReply(NbdProtocol.REP_ACK, new byte[0]);
      return go;
    }

    Request readRequest() throws IOException {
      assertThat(in.readInt()).isEqualTo(NbdProtocol.REQUEST_MAGIC);
      int flags = in.readUnsignedShort();
      int type = in.readUnsignedShort();
      long handle = in.readLong();
      long offset = in.readLong();
      int length = in.readInt();
      byte[] payload = type == NbdProtocol.CMD_WRITE ? in.readNBytes(length) : new byte[0];
      return new Request(flags, type, handle, offset, length, payload);
    }

    void reply(long handle, int error, byte[] data) throws IOException {
      out.writeInt(NbdProtocol.SIMPLE_REPLY_MAGIC);
      out.writeInt(error);
      out.writeLong(handle);
      if (data != null) {
        out.write(data);
      }
      out.flush();
    }

    void awaitDisc() throws IOException {
      assertThat(readRequest().type()).isEqualTo(NbdProtocol.CMD_DISC);
    }

    /** Reads until the client hangs up (end of stream or reset). */
    void awaitEnd() {
      try {
        while (in.read() >= 0) {
          // discard
        }
      } catch (IOException reset) {
        // hung up too
      }
    }
  }
}
