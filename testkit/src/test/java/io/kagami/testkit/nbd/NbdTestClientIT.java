package io.kagami.testkit.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.kagami.testkit.data.DataFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The client against a real server: qemu-nbd serving a sparse raw file on loopback. */
class NbdTestClientIT {
  private static final int MiB = 1 << 20;
  private static final long SEED = 0x6b61_6761_6d69L;

  @TempDir Path dir;
  private Path image;
  private QemuNbdServer server;

  @BeforeEach
  void startQemuNbd() throws Exception {
    image = DataFiles.createSparse(dir.resolve("vol0.raw"), 64 * MiB);
    server = QemuNbdServer.start(image, "vol0");
  }

  @AfterEach
  void stopQemuNbd() {
    server.close();
  }

  @Test
  void handshakeNegotiatesTheExport() throws Exception {
    try (NbdTestClient client = server.connect()) {
      assertThat(client.exportSize()).isEqualTo(64L * MiB);
      assertThat(client.isReadOnly()).isFalse();
      for (int flag :
          new int[] {
            NbdProtocol.FLAG_HAS_FLAGS,
            NbdProtocol.FLAG_SEND_FLUSH,
            NbdProtocol.FLAG_SEND_FUA,
            NbdProtocol.FLAG_SEND_TRIM,
            NbdProtocol.FLAG_SEND_WRITE_ZEROES
          }) {
        assertThat(client.hasFlag(flag))
            .as("transmission flag 0x%x in 0x%x", flag, client.transmissionFlags())
            .isTrue();
      }
      assertThat(client.uri()).isEqualTo(server.uri());
    }
  }

  @Test
  void pipelinedWritesReachTheImageAndReadBack() throws Exception {
    int chunk = 64 * 1024;
    int chunks = 64;
    Path data = DataFiles.createRandom(dir.resolve("data.bin"), (long) chunk * chunks, SEED);
    byte[] all = DataFiles.randomBytes(chunk * chunks, SEED);
    try (NbdTestClient client = server.connect()) {
      List<CompletableFuture<Void>> writes = new ArrayList<>();
      // Send every write before waiting for any; every fourth asks for FUA.
      for (int i = 0; i < chunks; i++) {
        byte[] piece = java.util.Arrays.copyOfRange(all, i * chunk, (i + 1) * chunk);
        writes.add(
            client.write((long) i * chunk, piece, i % 4 == 0 ? NbdProtocol.CMD_FLAG_FUA : 0));
      }
      CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      client.flush().get(30, TimeUnit.SECONDS);

      List<CompletableFuture<byte[]>> reads = new ArrayList<>();
      for (int i = 0; i < chunks; i++) {
        reads.add(client.read((long) i * chunk, chunk));
      }
      CompletableFuture.allOf(reads.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      for (int i = 0; i < chunks; i++) {
        byte[] expected = java.util.Arrays.copyOfRange(all, i * chunk, (i + 1) * chunk);
        DataFiles.assertSameBytes(
            "written data", expected, "read back", reads.get(i).get(), (long) i * chunk);
      }
    }
    DataFiles.assertSameRange(
        "written data", data, 0, "qemu-nbd image", image, 0, (long) chunk * chunks);
  }

  @Test
  void writeZeroesAndTrimSucceedAndZeroesReadBackAsZero() throws Exception {
    byte[] ones = new byte[MiB];
    java.util.Arrays.fill(ones, (byte) 0x5a);
    try (NbdTestClient client = server.connect()) {
      client.write(0, ones).get(10, TimeUnit.SECONDS);
      client.write(4 * MiB, ones).get(10, TimeUnit.SECONDS);
      CompletableFuture<Void> zeroes = client.writeZeroes(4096, 8192);
      CompletableFuture<Void> noHole =
          client.writeZeroes(
              64 * 1024, 4096, NbdProtocol.CMD_FLAG_NO_HOLE | NbdProtocol.CMD_FLAG_FUA);
      CompletableFuture<Void> trim = client.trim(4 * MiB, MiB);
      CompletableFuture<Void> flush = client.flush();
      CompletableFuture.allOf(zeroes, noHole, trim, flush).get(10, TimeUnit.SECONDS);

      byte[] expected = ones.clone();
      java.util.Arrays.fill(expected, 4096, 4096 + 8192, (byte) 0);
      java.util.Arrays.fill(expected, 64 * 1024, 64 * 1024 + 4096, (byte) 0);
      DataFiles.assertSameBytes(
          "expected", expected, "read back", client.read(0, MiB).get(10, TimeUnit.SECONDS), 0);
    }
  }

  @Test
  void errorRepliesCarryTheNbdCodeAndTheConnectionSurvives() throws Exception {
    try (NbdTestClient client = server.connect()) {
      long end = client.exportSize();
      CompletableFuture<byte[]> readPastEnd = client.read(end - 4096, 8192);
      // The spec asks for ENOSPC here; qemu-nbd 7.2 answers EINVAL.
      CompletableFuture<Void> writePastEnd = client.write(end, new byte[4096]);
      CompletableFuture<byte[]> fine = client.read(0, 4096);
      assertThatThrownBy(() -> readPastEnd.get(10, TimeUnit.SECONDS))
          .cause()
          .isInstanceOfSatisfying(
              NbdErrorException.class, e -> assertThat(e.errorName()).isEqualTo("EINVAL"));
      assertThatThrownBy(() -> writePastEnd.get(10, TimeUnit.SECONDS))
          .cause()
          .isInstanceOfSatisfying(
              NbdErrorException.class, e -> assertThat(e.errorName()).isIn("ENOSPC", "EINVAL"));
      assertThat(fine.get(10, TimeUnit.SECONDS)).hasSize(4096);
    }
  }

  @Test
  void garbageMakesTheServerHangUp() throws Exception {
    try (NbdTestClient client = server.connect()) {
      client.sendRaw(new byte[] {'G', 'A', 'R', 'B', 'A', 'G', 'E', '!'});
      client.sendRaw(new byte[NbdProtocol.REQUEST_HEADER_BYTES]);
      client.closed().get(10, TimeUnit.SECONDS);
      assertThat(client.closeReason()).isPresent();
    }
    // One bad client does not take qemu-nbd down.
    try (NbdTestClient again = server.connect()) {
      again.flush().get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void rawConnectionSeesTheGreetingAndAHangUpOnBadOptions() throws Exception {
    try (RawNbdConnection raw =
        RawNbdConnection.open(server.address(), NbdTestClient.DEFAULT_TIMEOUT)) {
      assertThat(raw.readLong()).isEqualTo(NbdProtocol.NBDMAGIC);
      assertThat(raw.readLong()).isEqualTo(NbdProtocol.IHAVEOPT);
      assertThat(raw.readUnsignedShort() & NbdProtocol.FLAG_FIXED_NEWSTYLE)
          .isEqualTo(NbdProtocol.FLAG_FIXED_NEWSTYLE);
      raw.send(new byte[] {0, 0, 0, 1});
      raw.send(new byte[] {'N', 'O', 'T', 'O', 'P', 'T', '!', '!', 0, 0, 0, 7, 0, 0, 0, 0});
      assertThat(raw.awaitServerClose(NbdTestClient.DEFAULT_TIMEOUT))
          .as("server hangs up after an option without IHAVEOPT")
          .isTrue();
    }
  }

  @Test
  void unknownExportIsRefused() throws Exception {
    assertThatThrownBy(() -> NbdTestClient.connect(server.address(), "nope"))
        .isInstanceOfSatisfying(
            NbdHandshakeException.class,
            e -> assertThat(e.replyType()).isEqualTo(NbdProtocol.REP_ERR_UNKNOWN));
  }
}
