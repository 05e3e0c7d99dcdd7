package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.testkit.data.DataFiles;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.tools.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real NBD clients write into the primary; the standby's read-only export reads back the same
 * bytes.
 */
class ReplicationIT {
  private static final long MiB = 1 << 20;
  private static final Duration T = Duration.ofMinutes(3);
  @TempDir Path dir;

  @Test
  void nbdcopyAndQemuImgConvertReplicateByteIdentical() throws Exception {
    try (TwoSites sites = new TwoSites(dir, 512 * MiB).start()) {
      Path data = DataFiles.createRandom(dir.resolve("data.bin"), 256 * MiB, 3);
      ExternalTool.require("nbdcopy").run(T, data.toString(), sites.primaryUri()).requireSuccess();
      sites.awaitInSync(T);
      Path back = dir.resolve("back.bin");
      ExternalTool.require("nbdcopy").run(T, sites.standbyUri(), back.toString()).requireSuccess();
      assertThat(Files.size(back)).isEqualTo(512 * MiB);
      ExternalTool.require("truncate")
          .run(T, "-s", String.valueOf(256 * MiB), back.toString())
          .requireSuccess();
      DataFiles.assertSameContent("written", data, "standby replica after nbdcopy", back);

      // qemu-img convert over the same volume with other data: the replica follows.
      Path data2 = DataFiles.createRandom(dir.resolve("data2.bin"), 256 * MiB, 4);
      ExternalTool.require("qemu-img")
          .run(T, "convert", "-n", "-f", "raw", "-O", "raw", data2.toString(), sites.primaryUri())
          .requireSuccess();
      sites.awaitInSync(T);
      Files.delete(back);
      ExternalTool.require("qemu-img")
          .run(T, "convert", "-f", "raw", "-O", "raw", sites.standbyUri(), back.toString())
          .requireSuccess();
      ExternalTool.require("truncate")
          .run(T, "-s", String.valueOf(256 * MiB), back.toString())
          .requireSuccess();
      DataFiles.assertSameContent("written", data2, "standby replica after qemu-img convert", back);

      JsonNode p = TwoSites.vol0(sites.primary.status());
      assertThat(p.path("lagBytes").asLong()).isZero();
      assertThat(p.path("role").asText()).isEqualTo("primary");
      JsonNode link = sites.primary.status().path("link");
      assertThat(link.path("rawBytes").asLong())
          .as("journal bytes shipped")
          .isGreaterThanOrEqualTo(512 * MiB);

      // The same figures for Prometheus, on both sites.
      String pm = sites.primary.metrics();
      assertThat(pm)
          .contains(
              "kagami_replication_lag_bytes{peer=\"hiroshima\",site=\"tokyo\",volume=\"vol0\"} 0.0")
          .contains("kagami_wan_connected{peer=\"hiroshima\",site=\"tokyo\"} 1.0")
          .contains(
              "kagami_role{peer=\"hiroshima\",role=\"primary\",site=\"tokyo\",volume=\"vol0\"} 1.0")
          .contains("jvm_memory_used_bytes")
          .contains(
              "kagami_nbd_request_seconds_bucket{op=\"write\",site=\"tokyo\",volume=\"vol0\",le=");
      // Read after the status: at or past its seq (verification points go on taking seqs).
      java.util.regex.Matcher lastSeq =
          java.util.regex.Pattern.compile(
                  "kagami_journal_last_seq\\{peer=\"hiroshima\",site=\"tokyo\",volume=\"vol0\"\\} (\\S+)")
              .matcher(pm);
      assertThat(lastSeq.find()).as("kagami_journal_last_seq in:\n%s", pm).isTrue();
      assertThat(Double.parseDouble(lastSeq.group(1)))
          .as("kagami_journal_last_seq")
          .isGreaterThanOrEqualTo((double) p.path("lastJournaledSeq").asLong());
      java.util.regex.Matcher writes =
          java.util.regex.Pattern.compile(
                  "kagami_nbd_requests_total\\{op=\"write\",result=\"ok\",site=\"tokyo\",volume=\"vol0\"} ([0-9.E]+)")
              .matcher(pm);
      assertThat(writes.find()).as("NBD write counter in:\n" + pm).isTrue();
      assertThat(Double.parseDouble(writes.group(1)))
          .as("NBD writes counted")
          .isGreaterThanOrEqualTo(256.0);
      java.util.regex.Matcher wire =
          java.util.regex.Pattern.compile(
                  "kagami_wan_sent_bytes_total\\{encoding=\"raw\",[^}]*} ([0-9.E]+)")
              .matcher(pm);
      assertThat(wire.find()).as("raw WAN byte counter in:\n" + pm).isTrue();
      assertThat(Double.parseDouble(wire.group(1))).isGreaterThanOrEqualTo(512.0 * MiB);
      assertThat(sites.standby.metrics())
          .contains(
              "kagami_role{peer=\"tokyo\",role=\"standby\",site=\"hiroshima\",volume=\"vol0\"} 1.0");
    }
  }

  @Test
  void fioVerifiedWritesOnThePrimaryVerifyOnTheStandby() throws Exception {
    try (TwoSites sites = new TwoSites(dir, 128 * MiB).start()) {
      String[] job = {
        "--name=kagami-verify",
        "--ioengine=nbd",
        "--rw=randwrite",
        "--bs=4k",
        "--iodepth=16",
        "--size=64m",
        "--verify=crc32c",
        "--verify_fatal=1",
        "--randseed=42",
        "--output-format=terse"
      };
      String[] write = append(job, "--uri=" + sites.primaryUri());
      ExternalTool.require("fio").run(T, write).requireSuccess();
      sites.awaitInSync(T);
      String[] verify = append(append(job, "--uri=" + sites.standbyUri()), "--verify_only");
      ExternalTool.Result r = ExternalTool.require("fio").run(T, verify).requireSuccess();
      assertThat(r.stdout()).doesNotContain("verify: bad");
    }
  }

  @Test
  void severalVolumesAndConcurrentClientsReplicateIndependently() throws Exception {
    try (TwoSites sites = new TwoSites(dir, 64 * MiB, "vol0", "db-log").start()) {
      Path a = DataFiles.createRandom(dir.resolve("a.bin"), 32 * MiB, 7);
      Path b = DataFiles.createRandom(dir.resolve("b.bin"), 32 * MiB, 8);
      // Two real clients at once, one per volume, plus four connections sharing vol0's upper half.
      CompletableFuture<ExternalTool.Result> copyA =
          CompletableFuture.supplyAsync(() -> copy(a, sites.primaryUri("vol0")));
      CompletableFuture<ExternalTool.Result> copyB =
          CompletableFuture.supplyAsync(() -> copy(b, sites.primaryUri("db-log")));
      List<NbdTestClient> clients = new ArrayList<>();
      List<CompletableFuture<Void>> writes = new ArrayList<>();
      byte[][] blocks = new byte[4][];
      try {
        for (int c = 0; c < 4; c++) {
          NbdTestClient client = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0");
          clients.add(client);
          blocks[c] = DataFiles.randomBytes(MiB_INT, 100 + c);
          writes.add(client.write(48 * MiB + c * MiB, blocks[c]));
        }
        for (CompletableFuture<Void> w : writes) {
          w.get(1, TimeUnit.MINUTES);
        }
      } finally {
        for (NbdTestClient c : clients) {
          c.close();
        }
      }
      copyA.get(3, TimeUnit.MINUTES).requireSuccess();
      copyB.get(3, TimeUnit.MINUTES).requireSuccess();
      sites.awaitInSync(T);
      Path backA = dir.resolve("backA.bin");
      Path backB = dir.resolve("backB.bin");
      ExternalTool.require("nbdcopy").runOk(T, sites.standbyUri("vol0"), backA.toString());
      ExternalTool.require("nbdcopy").runOk(T, sites.standbyUri("db-log"), backB.toString());
      DataFiles.assertSameRange("written", a, 0, "standby vol0", backA, 0, 32 * MiB);
      DataFiles.assertSameRange("written", b, 0, "standby db-log", backB, 0, 32 * MiB);
      for (int c = 0; c < 4; c++) {
        Path block = Files.write(dir.resolve("block" + c), blocks[c]);
        DataFiles.assertSameRange(
            "client " + c, block, 0, "standby vol0", backA, 48 * MiB + c * MiB, MiB);
      }
      JsonNode vols = sites.standby.status().path("volumes");
      assertThat(vols).extracting(v -> v.path("name").asText()).containsExactly("vol0", "db-log");
    }
  }

  private static final int MiB_INT = 1 << 20;

  private static ExternalTool.Result copy(Path from, String to) {
    try {
      return ExternalTool.require("nbdcopy").run(T, from.toString(), to);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static String[] append(String[] a, String s) {
    String[] out = java.util.Arrays.copyOf(a, a.length + 1);
    out[a.length] = s;
    return out;
  }
}
