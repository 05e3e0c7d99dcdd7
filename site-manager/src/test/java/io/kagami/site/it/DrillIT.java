package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.site.it.PromoteIT.Cli;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.tools.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code docs/runbooks/drill.md}, step by step, against a real primary and standby, with the CLI
 * verbs and the qemu tools the runbook shows: data written into the clone never reaches the replica
 * or the primary; the clone stays frozen while the primary keeps writing; the standby's lag drains
 * to zero while the clone is written.
 */
class DrillIT {
  private static final long VOLUME = 64L << 20;
  private static final Duration T = Duration.ofMinutes(2);
  @TempDir Path dir;

  @Test
  void theDrillRunbookWorksAsWrittenAndTheCloneNeverLeaksIntoTheReplica() throws Exception {
    ExternalTool qemuIo = ExternalTool.require("qemu-io");
    ExternalTool qemuImg = ExternalTool.require("qemu-img");
    ExternalTool nbdcopy = ExternalTool.require("nbdcopy");
    try (TwoSites sites = TwoSites.withVolumeOptions(dir, VOLUME, "retention: 10m").start()) {
      String standbyAdmin = "127.0.0.1:" + sites.standbyAdmin;
      // Production data: 0x11 over the first 8 MiB, replicated.
      qemuIo.runOk(T, "-f", "raw", "-c", "write -P 0x11 0 8M", sites.primaryUri());
      sites.awaitInSync(T);
      // The newest write: continuous verification goes on placing points after it, which change
      // nothing, so a drill "now" shows this write, however many points the replica applied.
      long frozenAt = sites.primary.status().path("volumes").get(0).path("lastWriteSeq").asLong();

      // 1. Look at the standby.
      Cli status = PromoteIT.cli("status", "--admin", standbyAdmin);
      assertThat(status.output()).contains("replicating").contains("recoverable from seq");

      // A drill on the primary is refused.
      Cli onPrimary =
          PromoteIT.cli(
              "drill", "start", "--volume", "vol0", "--admin", "127.0.0.1:" + sites.primaryAdmin);
      assertThat(onPrimary.exit()).isNotZero();
      assertThat(onPrimary.output()).contains("is a primary: a drill runs on a standby");
      // A point outside the window is refused, with the window.
      Cli outside =
          PromoteIT.cli(
              "drill",
              "start",
              "--volume",
              "vol0",
              "--seq",
              Long.toString(frozenAt + 1000),
              "--admin",
              standbyAdmin);
      assertThat(outside.exit()).isNotZero();
      assertThat(outside.output()).contains("is not applied yet");

      // 2. Start the drill (now).
      Cli started = PromoteIT.cli("drill", "start", "--volume", "vol0", "--admin", standbyAdmin);
      assertThat(started.exit()).as(started.output()).isZero();
      String uri =
          started
              .output()
              .lines()
              .filter(l -> l.startsWith("nbd://"))
              .findFirst()
              .orElseThrow(() -> new AssertionError("no URI in: " + started.output()));
      assertThat(uri).isEqualTo("nbd://127.0.0.1:" + sites.standbyNbd + "/vol0-drill");
      Cli second = PromoteIT.cli("drill", "start", "--volume", "vol0", "--admin", standbyAdmin);
      assertThat(second.exit()).isNotZero();
      assertThat(second.output()).contains("is running already");

      // Production keeps writing during the drill: 0x22 over the same 8 MiB.
      AtomicLong maxLag = new AtomicLong();
      CompletableFuture<Void> production = CompletableFuture.runAsync(() -> writeProduction(sites));

      // 3. Attach a test machine: qemu-img sees it; qemu-io writes into the clone and reads it
      // back.
      assertThat(qemuImg.runOk(T, "info", uri).stdout()).contains("64 MiB");
      qemuIo.runOk(T, "-f", "raw", "-c", "write -P 0xcd 0 1M", "-c", "read -P 0xcd 0 1M", uri);
      // The test machine keeps writing (16 MiB..32 MiB, round and round) until the lag has drained.
      AtomicBoolean drained = new AtomicBoolean();
      AtomicLong cloneWrites = new AtomicLong();
      CompletableFuture<Void> testMachine =
          CompletableFuture.runAsync(
              () -> {
                try {
                  for (int i = 0; i < 400 && (!drained.get() || i < 16); i++) {
                    qemuIo.runOk(
                        T, "-f", "raw", "-c", "write -P 0xce " + (16 + i % 16) + "M 1M", uri);
                    cloneWrites.incrementAndGet();
                    maxLag.accumulateAndGet(
                        sites.standby.status().path("volumes").get(0).path("lagBytes").asLong(),
                        Math::max);
                  }
                } catch (Exception e) {
                  throw new IllegalStateException(
                      "writing into the clone failed: " + e.getMessage(), e);
                }
              });
      production.get(2, TimeUnit.MINUTES);

      // 4. Check while it runs: replication goes on, lag drains to 0 while the clone is written.
      sites.awaitInSync(T);
      assertThat(testMachine.isDone())
          .as("the test machine was still writing into the clone when the standby's lag reached 0")
          .isFalse();
      long writesAtDrain = cloneWrites.get();
      drained.set(true);
      testMachine.get(2, TimeUnit.MINUTES);
      JsonNode standby = sites.standby.status().path("volumes").get(0);
      assertThat(standby.path("lagBytes").asLong()).as("standby lag with a drill running").isZero();
      assertThat(standby.path("drill").path("seq").asLong()).isEqualTo(frozenAt);
      assertThat(sites.standby.metrics())
          .contains("kagami_drill_running{peer=\"tokyo\",site=\"hiroshima\",volume=\"vol0\"} 1.0")
          .containsPattern(
              "kagami_undo_bytes\\{peer=\"tokyo\",site=\"hiroshima\",volume=\"vol0\"\\} [1-9]");
      Cli drillStatus = PromoteIT.cli("drill", "status", "--admin", standbyAdmin);
      assertThat(drillStatus.output()).contains("vol0-drill at seq " + frozenAt).contains(uri);
      System.out.printf(
          "DrillIT: max standby lag sampled while the clone was written: %d bytes; %d clone writes before the lag drained%n",
          maxLag.get(), writesAtDrain);

      // The clone: the drill's writes, else frozen at the start (0x11), never the primary's 0x22.
      qemuIo.runOk(
          T,
          "-f",
          "raw",
          "-c",
          "read -P 0xcd 0 1M",
          "-c",
          "read -P 0x11 1M 7M",
          "-c",
          "read -P 0xce 16M 8M",
          "-c",
          "read -P 0 8M 8M",
          uri);
      // The replica and the primary: the primary's data, never the drill's.
      sites.assertReplicaIdentical();
      qemuIo.runOk(
          T,
          "-f",
          "raw",
          "-r",
          "-c",
          "read -P 0x22 0 8M",
          "-c",
          "read -P 0 16M 8M",
          sites.standbyUri());

      // 5. Stop the drill: the export is gone and its writes with it; a host still attached is cut
      // off.
      NbdTestClient attached = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0-drill");
      Cli stopped = PromoteIT.cli("drill", "stop", "--volume", "vol0", "--admin", standbyAdmin);
      assertThat(stopped.exit()).as(stopped.output()).isZero();
      assertThat(stopped.output()).contains("discarded").contains("1 NBD connection(s) closed");
      attached.closed().get(30, TimeUnit.SECONDS);
      attached.close();
      assertThat(qemuImg.run(T, "info", uri).succeeded())
          .as("the clone's export after drill stop")
          .isFalse();
      assertThat(PromoteIT.cli("drill", "status", "--admin", standbyAdmin).output())
          .contains("no drill running");
      try (var overlays = Files.list(dir.resolve("hiroshima/drills"))) {
        assertThat(overlays.toList()).as("overlay files after stop").isEmpty();
      }
      // A drill in the past, from the retained history: the 0x11 state while the replica holds
      // 0x22.
      Cli past =
          PromoteIT.cli(
              "drill",
              "start",
              "--volume",
              "vol0",
              "--seq",
              Long.toString(frozenAt),
              "--admin",
              standbyAdmin);
      assertThat(past.exit()).as(past.output()).isZero();
      Path copy = dir.resolve("past.img");
      nbdcopy.runOk(T, uri, copy.toString());
      byte[] head = new byte[8 << 20];
      try (var in = Files.newInputStream(copy)) {
        assertThat(in.readNBytes(head, 0, head.length)).isEqualTo(head.length);
      }
      int bad = -1;
      for (int i = 0; i < head.length && bad < 0; i++) {
        bad = head[i] == 0x11 ? -1 : i;
      }
      assertThat(bad)
          .as(
              "past drill at seq %d differs from the 0x11 state at offset 0x%x",
              frozenAt, Math.max(bad, 0))
          .isEqualTo(-1);
      assertThat(PromoteIT.cli("drill", "stop", "--volume", "vol0", "--admin", standbyAdmin).exit())
          .isZero();
    }
  }

  /** The primary overwrites the first 8 MiB with 0x22 in 64 KiB writes, then flushes. */
  private static void writeProduction(TwoSites sites) {
    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
      byte[] data = new byte[64 << 10];
      Arrays.fill(data, (byte) 0x22);
      List<CompletableFuture<Void>> all = new ArrayList<>();
      for (long off = 0; off < (8 << 20); off += data.length) {
        all.add(c.write(off, data));
      }
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(1, TimeUnit.MINUTES);
      c.flush().get(1, TimeUnit.MINUTES);
    } catch (Exception e) {
      throw new IllegalStateException("production writes failed: " + e.getMessage(), e);
    }
  }
}
