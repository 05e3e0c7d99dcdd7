package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.testkit.Tool;
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
      Path data = Tool.randomFile(dir.resolve("data.bin"), 256 * MiB, 3);
      Tool.run(T, "nbdcopy", data.toString(), sites.primaryUri()).requireSuccess();
      sites.awaitInSync(T);
      Path back = dir.resolve("back.bin");
      Tool.run(T, "nbdcopy", sites.standbyUri(), back.toString()).requireSuccess();
      assertThat(Files.size(back)).isEqualTo(512 * MiB);
      Tool.run(T, "truncate", "-s", String.valueOf(256 * MiB), back.toString()).requireSuccess();
      Tool.assertSameBytes(data, back, "standby replica after nbdcopy");

      // qemu-img convert over the same volume with other data: the replica follows.
      Path data2 = Tool.randomFile(dir.resolve("data2.bin"), 256 * MiB, 4);
      Tool.run(T, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", data2.toString(), sites.primaryUri()).requireSuccess();
      sites.awaitInSync(T);
      Files.delete(back);
      Tool.run(T, "qemu-img", "convert", "-f", "raw", "-O", "raw", sites.standbyUri(), back.toString()).requireSuccess();
      Tool.run(T, "truncate", "-s", String.valueOf(256 * MiB), back.toString()).requireSuccess();
      Tool.assertSameBytes(data2, back, "standby replica after qemu-img convert");

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
        "fio", "--name=kagami-verify", "--ioengine=nbd", "--rw=randwrite", "--bs=4k", "--iodepth=16", "--size=64m",
        "--verify=crc32c", "--verify_fatal=1", "--randseed=42", "--output-format=terse"
      };
      String[] write = append(job, "--uri=" + sites.primaryUri());
      Tool.run(T, write).requireSuccess();
      sites.awaitInSync(T);
      String[] verify = append(append(job, "--uri=" + sites.standbyUri()), "--verify_only");
      Tool.Result r = Tool.run(T, verify).requireSuccess();
      assertThat(r.output()).doesNotContain("verify: bad");
    }
  }

  private static String[] append(String[] a, String s) {
    String[] out = java.util.Arrays.copyOf(a, a.length + 1);
    out[a.length] = s;
    return out;
  }
}
