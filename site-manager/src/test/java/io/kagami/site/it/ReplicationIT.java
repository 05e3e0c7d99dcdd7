package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.testkit.data.DataFiles;
import io.kagami.testkit.tools.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real NBD clients write into the primary; the standby's read-only export reads back the same bytes. */
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
      ExternalTool.require("truncate").run(T, "-s", String.valueOf(256 * MiB), back.toString()).requireSuccess();
      DataFiles.assertSameContent("written", data, "standby replica after nbdcopy", back);

      // qemu-img convert over the same volume with other data: the replica follows.
      Path data2 = DataFiles.createRandom(dir.resolve("data2.bin"), 256 * MiB, 4);
      ExternalTool.require("qemu-img").run(T, "convert", "-n", "-f", "raw", "-O", "raw", data2.toString(), sites.primaryUri()).requireSuccess();
      sites.awaitInSync(T);
      Files.delete(back);
      ExternalTool.require("qemu-img").run(T, "convert", "-f", "raw", "-O", "raw", sites.standbyUri(), back.toString()).requireSuccess();
      ExternalTool.require("truncate").run(T, "-s", String.valueOf(256 * MiB), back.toString()).requireSuccess();
      DataFiles.assertSameContent("written", data2, "standby replica after qemu-img convert", back);

      JsonNode p = TwoSites.vol0(sites.primary.status());
      assertThat(p.path("lagBytes").asLong()).isZero();
      assertThat(p.path("role").asText()).isEqualTo("primary");
      JsonNode link = sites.primary.status().path("link");
      assertThat(link.path("rawBytes").asLong()).as("journal bytes shipped").isGreaterThanOrEqualTo(512 * MiB);
    }
  }

  @Test
  void fioVerifiedWritesOnThePrimaryVerifyOnTheStandby() throws Exception {
    try (TwoSites sites = new TwoSites(dir, 128 * MiB).start()) {
      String[] job = {
        "--name=kagami-verify", "--ioengine=nbd", "--rw=randwrite", "--bs=4k", "--iodepth=16", "--size=64m",
        "--verify=crc32c", "--verify_fatal=1", "--randseed=42", "--output-format=terse"
      };
      String[] write = append(job, "--uri=" + sites.primaryUri());
      ExternalTool.require("fio").run(T, write).requireSuccess();
      sites.awaitInSync(T);
      String[] verify = append(append(job, "--uri=" + sites.standbyUri()), "--verify_only");
      ExternalTool.Result r = ExternalTool.require("fio").run(T, verify).requireSuccess();
      assertThat(r.stdout()).doesNotContain("verify: bad");
    }
  }

  private static String[] append(String[] a, String s) {
    String[] out = java.util.Arrays.copyOf(a, a.length + 1);
    out[a.length] = s;
    return out;
  }
}
