package io.kagami.replicator.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.kagami.testkit.tools.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Unmodified NBD clients (libnbd's nbdinfo and nbdcopy, QEMU's qemu-io and qemu-img, fio's nbd
 * engine) against a server on loopback. A missing tool fails the test.
 */
class NbdServerRealClientsIT {
  static final int SIZE = 32 << 20;
  static final int RO_SIZE = 16 << 20;
  static final Duration TIMEOUT = Duration.ofSeconds(60);

  @TempDir Path dir;
  MemoryBlockDevice vol0;
  MemoryBlockDevice ro;
  NbdServer server;
  String uri;
  String roUri;

  @BeforeEach
  void start() {
    vol0 = new MemoryBlockDevice("vol0", SIZE, false, 4);
    ro = new MemoryBlockDevice("ro", RO_SIZE, true, 2);
    ro.fill(0, pattern(RO_SIZE, 99));
    server = new NbdServer(NbdServerConfig.listen("127.0.0.1", 0), Exports.of(vol0, ro));
    int port = server.start();
    uri = "nbd://127.0.0.1:" + port + "/vol0";
    roUri = "nbd://127.0.0.1:" + port + "/ro";
  }

  @AfterEach
  void stop() {
    server.close();
    vol0.close();
    ro.close();
    assertThat(vol0.unreleasedBuffers()).as("buffers of vol0 nobody released").isEmpty();
    assertThat(ro.unreleasedBuffers()).as("buffers of ro nobody released").isEmpty();
  }

  static byte[] pattern(int length, long seed) {
    byte[] b = new byte[length];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** A random image with a zeroed MiB in the middle, so clients also send zeroing requests. */
  Path randomImage(String name, long seed) throws Exception {
    System.out.println(getClass().getSimpleName() + ": image " + name + " from seed " + seed);
    byte[] data = pattern(SIZE, seed);
    Arrays.fill(data, 8 << 20, 9 << 20, (byte) 0);
    Path p = dir.resolve(name);
    Files.write(p, data);
    return p;
  }

  static void assertSameBytes(byte[] expected, byte[] actual, String what) {
    assertThat(actual.length).as(what + ": length").isGreaterThanOrEqualTo(expected.length);
    int diff = Arrays.mismatch(expected, 0, expected.length, actual, 0, expected.length);
    if (diff >= 0) {
      fail(
          String.format(
              "%s differs from what was written at offset 0x%x (expected 0x%02x, got 0x%02x)",
              what, diff, expected[diff], actual[diff]));
    }
  }

  static long jsonNumber(String json, String key) {
    Matcher m = Pattern.compile("\"" + Pattern.quote(key) + "\"\\s*:\\s*(\\d+)").matcher(json);
    if (!m.find()) {
      fail("nbdinfo --json printed no \"" + key + "\":\n" + json);
    }
    return Long.parseLong(m.group(1));
  }

  @Test
  void nbdinfoReportsSizeBlockSizesAndFlags() throws Exception {
    String json =
        ExternalTool.require("nbdinfo").inDirectory(dir).runOk(TIMEOUT, "--json", uri).stdout();
    assertThat(jsonNumber(json, "export-size")).as("export-size").isEqualTo(SIZE);
    assertThat(jsonNumber(json, "block_size_minimum")).as("block_size_minimum").isEqualTo(512);
    assertThat(jsonNumber(json, "block_size_preferred")).as("block_size_preferred").isEqualTo(4096);
    assertThat(jsonNumber(json, "block_size_maximum")).as("block_size_maximum").isEqualTo(32 << 20);
    assertThat(json)
        .contains("\"is_read_only\": false")
        .contains("\"can_flush\": true")
        .contains("\"can_fua\": true")
        .contains("\"can_multi_conn\": true");
    String roJson =
        ExternalTool.require("nbdinfo").inDirectory(dir).runOk(TIMEOUT, "--json", roUri).stdout();
    assertThat(roJson).contains("\"is_read_only\": true");
    assertThat(jsonNumber(roJson, "export-size")).isEqualTo(RO_SIZE);
  }

  @Test
  void nbdinfoListsTheExports() throws Exception {
    String out =
        ExternalTool.require("nbdinfo")
            .inDirectory(dir)
            .runOk(TIMEOUT, "--list", "--json", uri)
            .stdout();
    assertThat(out).contains("\"vol0\"").contains("\"ro\"");
  }

  @Test
  void qemuIoWritesAndReadsBackAPattern() throws Exception {
    ExternalTool.Result r =
        ExternalTool.require("qemu-io")
            .inDirectory(dir)
            .runOk(
                TIMEOUT, "-f", "raw", "-c", "write -P 0xab 0 1M", "-c", "read -P 0xab 0 1M", uri);
    assertThat(r.output())
        .as(r.describe())
        .contains("wrote 1048576/1048576 bytes")
        .contains("read 1048576/1048576 bytes")
        .doesNotContain("Pattern verification failed");
    byte[] expected = new byte[1 << 20];
    Arrays.fill(expected, (byte) 0xab);
    assertSameBytes(expected, vol0.snapshot(0, 1 << 20), "vol0 after qemu-io");
  }

  @Test
  void nbdcopyRoundTripsARandomImage() throws Exception {
    byte[] garbage = new byte[SIZE];
    Arrays.fill(garbage, (byte) 0xff);
    vol0.fill(0, garbage); // so zeroing requests that never arrive would show
    Path in = randomImage("in.raw", 20260101L);
    Path out = dir.resolve("out.raw");
    ExternalTool.require("nbdcopy").inDirectory(dir).runOk(TIMEOUT, in.toString(), uri);
    Files.write(out, new byte[0]);
    ExternalTool.require("nbdcopy").inDirectory(dir).runOk(TIMEOUT, uri, out.toString());
    byte[] expected = Files.readAllBytes(in);
    assertSameBytes(expected, vol0.snapshot(0, SIZE), "vol0 after nbdcopy in");
    assertSameBytes(expected, Files.readAllBytes(out), "image copied back out with nbdcopy");
  }

  @Test
  void qemuImgConvertsInAndOut() throws Exception {
    byte[] garbage = new byte[SIZE];
    Arrays.fill(garbage, (byte) 0x5a);
    vol0.fill(0, garbage);
    Path in = randomImage("in.raw", 20260102L);
    Path out = dir.resolve("out.raw");
    ExternalTool.require("qemu-img")
        .inDirectory(dir)
        .runOk(TIMEOUT, "convert", "-n", "-f", "raw", "-O", "raw", in.toString(), uri);
    ExternalTool.require("qemu-img")
        .inDirectory(dir)
        .runOk(TIMEOUT, "convert", "-f", "raw", "-O", "raw", uri, out.toString());
    byte[] expected = Files.readAllBytes(in);
    assertSameBytes(expected, vol0.snapshot(0, SIZE), "vol0 after qemu-img convert in");
    assertSameBytes(expected, Files.readAllBytes(out), "image converted back out with qemu-img");
  }

  @Test
  void fioRandomWritesVerifyWithCrc32c() throws Exception {
    ExternalTool.Result r =
        ExternalTool.require("fio")
            .inDirectory(dir)
            .runOk(
                TIMEOUT,
                "--name=kagami-nbd",
                "--ioengine=nbd",
                "--uri=" + uri,
                "--rw=randwrite",
                "--bs=4k",
                "--iodepth=16",
                "--size=16m",
                "--verify=crc32c",
                "--verify_fatal=1");
    assertThat(r.output()).as(r.describe()).doesNotContain("verify: bad").contains("kagami-nbd");
  }

  @Test
  void writesToTheReadOnlyExportFail() throws Exception {
    ExternalTool.Result r =
        ExternalTool.require("qemu-io")
            .inDirectory(dir)
            .run(TIMEOUT, "-f", "raw", "-c", "write -P 0xcd 0 4k", roUri);
    // QEMU sees NBD_FLAG_READ_ONLY and refuses to open the export for writing at all; the
    // server's own EPERM for writes that do arrive is covered by NbdSessionTest.
    assertThat(r.exitCode()).as("qemu-io exit code:\n" + r.describe()).isNotZero();
    assertThat(r.output())
        .as(r.describe())
        .containsAnyOf("Permission denied", "Operation not permitted", "read-only");
    assertThat(r.output()).as(r.describe()).doesNotContain("wrote 4096/4096 bytes");
    assertSameBytes(pattern(RO_SIZE, 99), ro.snapshot(0, RO_SIZE), "read-only export");
  }

  @Test
  void aReadBeyondTheEndFails() throws Exception {
    ExternalTool.Result r =
        ExternalTool.require("qemu-io")
            .inDirectory(dir)
            .run(TIMEOUT, "-f", "raw", "-c", "read 32M 4k", uri);
    assertThat(r.exitCode()).as("qemu-io exit code:\n" + r.describe()).isNotZero();
    assertThat(r.output()).as(r.describe()).contains("read failed");
    assertThat(r.output()).as(r.describe()).doesNotContain("read 4096/4096 bytes");
  }
}
