package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.site.config.DataSize;
import io.kagami.site.config.MemoryBudget;
import io.kagami.testkit.data.DataFiles;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.tools.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A site's memory stays within its budget ({@code memory.budget}) under write load through NBD,
 * writers are back-pressured (never an out-of-memory error) when a share is full, and a JVM that
 * does run out of memory exits at once. Real site processes started as the launchers start them
 * ({@link SiteProcess}: heap and direct memory from the budget, {@code
 * -XX:+ExitOnOutOfMemoryError}); resident memory from {@code /proc/<pid>/status}.
 */
class MemoryBudgetIT {
  private static final int MIB = 1 << 20;
  private static final long LIMIT_BYTES = 512L * MIB;

  @TempDir Path dir;

  private static List<String> names(int n) {
    List<String> names = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      names.add("vol" + i);
    }
    return names;
  }

  private static byte[] block(int volume, int i, int size) {
    return DataFiles.randomBytes(size, volume * 100_003L + i);
  }

  private static byte[] block(int volume, int i) {
    return block(volume, i, MIB);
  }

  /** Writes {@code blocks} MiB blocks to each volume at once, {@code depth} in flight on each. */
  private static Duration writeAll(
      TwoSites sites, List<String> volumes, int blocks, int depth, Duration timeout)
      throws Exception {
    return writeAll(sites, volumes, blocks, MIB, depth, timeout);
  }

  /** Writes {@code blocks} blocks of {@code size} to each volume at once, {@code depth} on each. */
  private static Duration writeAll(
      TwoSites sites, List<String> volumes, int blocks, int size, int depth, Duration timeout)
      throws Exception {
    long start = SystemTime.NANO.nanoTime();
    List<NbdTestClient> clients = new ArrayList<>();
    try {
      for (String v : volumes) {
        clients.add(NbdTestClient.connect("127.0.0.1", sites.primaryNbd, v));
      }
      List<ArrayDeque<CompletableFuture<Void>>> windows = new ArrayList<>();
      for (int c = 0; c < clients.size(); c++) {
        windows.add(new ArrayDeque<>());
      }
      for (int i = 0; i < blocks; i++) {
        for (int c = 0; c < clients.size(); c++) {
          ArrayDeque<CompletableFuture<Void>> w = windows.get(c);
          if (w.size() == depth) {
            w.poll().get(timeout.toSeconds(), TimeUnit.SECONDS);
          }
          w.add(clients.get(c).write((long) i * size, block(c, i, size)));
        }
      }
      for (int c = 0; c < clients.size(); c++) {
        for (CompletableFuture<Void> f : windows.get(c)) {
          f.get(timeout.toSeconds(), TimeUnit.SECONDS);
        }
        clients.get(c).flush().get(timeout.toSeconds(), TimeUnit.SECONDS);
      }
    } finally {
      for (NbdTestClient c : clients) {
        c.close();
      }
    }
    return Duration.ofNanos(SystemTime.NANO.nanoTime() - start);
  }

  private static void assertReadsBack(TwoSites sites, List<String> volumes, int blocks, int size)
      throws Exception {
    for (int c = 0; c < volumes.size(); c++) {
      try (NbdTestClient client =
          NbdTestClient.connect("127.0.0.1", sites.primaryNbd, volumes.get(c))) {
        for (int i = 0; i < blocks; i++) {
          byte[] got = client.read((long) i * size, size).get(30, TimeUnit.SECONDS);
          if (!Arrays.equals(got, block(c, i, size))) {
            throw new AssertionError(
                "primary "
                    + volumes.get(c)
                    + " differs from what was written in the block at "
                    + DataFiles.hex((long) i * size));
          }
        }
      }
    }
  }

  private static double metric(String scrape, String name, String share) {
    Matcher m =
        Pattern.compile("(?m)^" + name + "\\{[^}]*share=\"" + share + "\"[^}]*\\} ([0-9.eE+-]+)$")
            .matcher(scrape);
    if (!m.find()) {
      throw new AssertionError("no " + name + "{share=\"" + share + "\"} in the scrape");
    }
    return Double.parseDouble(m.group(1));
  }

  @Test
  void eightVolumesUnderWriteLoadStayWithinTheDefaultBudget() throws Exception {
    List<String> volumes = names(8);
    int blocks = 64;
    try (TwoSites sites =
        new TwoSites(dir, (long) blocks * MIB, volumes.toArray(new String[0])).start()) {
      Duration took = writeAll(sites, volumes, blocks, 16, Duration.ofMinutes(2));
      sites.awaitInSync(Duration.ofMinutes(2));
      long primaryPeak = sites.primary.procStatusBytes("VmHWM");
      long standbyPeak = sites.standby.procStatusBytes("VmHWM");
      System.out.printf(
          "8 volumes, default budget: %d MiB written in %.1f s; peak resident memory primary %d MiB,"
              + " standby %d MiB (limit %d MiB)%n",
          8 * blocks,
          took.toMillis() / 1000.0,
          primaryPeak >> 20,
          standbyPeak >> 20,
          LIMIT_BYTES >> 20);
      assertThat(primaryPeak)
          .as("primary's peak resident memory (VmHWM) with 8 volumes and the default budget")
          .isLessThanOrEqualTo(LIMIT_BYTES);
      assertThat(standbyPeak)
          .as("standby's peak resident memory (VmHWM) with 8 volumes and the default budget")
          .isLessThanOrEqualTo(LIMIT_BYTES);
      assertThat(sites.primary.log()).doesNotContain("OutOfMemoryError");
    }
  }

  @Test
  void exhaustingTheBudgetSlowsWritersAndLosesNothing() throws Exception {
    List<String> volumes = names(8);
    int size = 4 * MIB;
    int blocks = 8;
    TwoSites sites = new TwoSites(dir, (long) blocks * size, volumes.toArray(new String[0]));
    // The smallest budget 8 volumes may have (a small NBD in-flight share for the whole site).
    String least = new DataSize(MemoryBudget.leastFor(volumes.size())).toString();
    Files.writeString(
        dir.resolve("tokyo.yaml"), "memory: {budget: " + least + "}\n", StandardOpenOption.APPEND);
    try (sites) {
      // The standby stays down: nothing the primary holds can drain over the link.
      sites.primary.start();
      // 8 writers with 16 writes of 4 MiB in flight each ask for 512 MiB of payload at once.
      Duration took;
      try {
        took = writeAll(sites, volumes, blocks, size, 16, Duration.ofMinutes(2));
      } catch (java.util.concurrent.ExecutionException e) {
        throw new AssertionError(
            "a write failed instead of waiting for the budget; primary's log:\n"
                + sites.primary.log(),
            e);
      }
      String scrape = sites.primary.metrics();
      double waits = metric(scrape, "kagami_memory_share_waits_total", "nbd_in_flight");
      double share = metric(scrape, "kagami_memory_share_bytes", "nbd_in_flight");
      double late = metric(scrape, "kagami_memory_share_waits_total", "volume_writes");
      System.out.printf(
          "budget %s, standby down: %d MiB written in %.1f s with %d MiB in flight asked;"
              + " NBD in-flight share %.1f MiB; waits for it: %.0f; groups acknowledged only"
              + " after the volume file caught up: %.0f%n",
          least,
          8 * blocks * (size / MIB),
          took.toMillis() / 1000.0,
          8 * 16 * (size / MIB),
          share / MIB,
          waits,
          late);
      assertThat(waits)
          .as("NBD requests that waited because the in-flight share was full (back-pressure)")
          .isPositive();
      assertThat(sites.primary.alive()).as("primary still running").isTrue();
      assertThat(sites.primary.log()).doesNotContain("OutOfMemoryError");
      assertReadsBack(sites, volumes, blocks, size);

      sites.standby.start();
      sites.primary.awaitStatus(
          s -> s.path("link").path("connected").asBoolean(),
          Duration.ofSeconds(60),
          "the WAN link to connect");
      sites.awaitInSync(Duration.ofMinutes(3));
      for (String v : volumes) {
        Path p = dir.resolve("primary-" + v + ".img");
        Path s = dir.resolve("standby-" + v + ".img");
        Duration t = Duration.ofMinutes(3);
        ExternalTool.require("nbdcopy").run(t, sites.primaryUri(v), p.toString()).requireSuccess();
        ExternalTool.require("nbdcopy").run(t, sites.standbyUri(v), s.toString()).requireSuccess();
        DataFiles.assertSameContent("primary " + v, p, "standby replica " + v, s);
        Files.delete(p);
        Files.delete(s);
      }
      assertThat(sites.primary.log()).doesNotContain("OutOfMemoryError");
    }
  }

  @Test
  void aJvmThatRunsOutOfMemoryExitsAtOnce() throws Exception {
    TwoSites sites = new TwoSites(dir, 256L * MIB);
    // A heap smaller than the budget says (the default budget gives this volume a tail cache
    // larger than this heap): an operator's override gone wrong. Writes fill the tail cache until
    // the heap is out.
    long tail = new MemoryBudget(MemoryBudget.DEFAULT_BYTES, 1).tailCacheBytesPerVolume();
    sites.primary.jvmOptions(List.of("-Xms48m", "-Xmx48m"));
    try (sites) {
      sites.primary.start();
      long start = SystemTime.NANO.nanoTime();
      int written = 0;
      Throwable failure = null;
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        for (; written < 256; written++) {
          c.write((long) written * MIB, block(0, written)).get(30, TimeUnit.SECONDS);
        }
      } catch (Exception | AssertionError e) {
        failure = e;
      }
      long failedAt = SystemTime.NANO.nanoTime();
      int code = sites.primary.awaitExit(Duration.ofSeconds(10));
      String log = sites.primary.log();
      System.out.printf(
          "heap 48 MiB under a %d MiB tail cache: %d MiB written, then the writes failed (%s);"
              + " JVM exit code %d, %.1f s after the first write, %.1f s after the failed one%n",
          tail >> 20,
          written,
          failure,
          code,
          (failedAt - start) / 1e9,
          (SystemTime.NANO.nanoTime() - failedAt) / 1e9);
      assertThat(failure).as("writes stop when the site's JVM is out of memory").isNotNull();
      assertThat(code).as("exit code of a JVM that ran out of memory").isNotZero();
      assertThat(log)
          .as("the site's last words")
          .contains("Terminating due to java.lang.OutOfMemoryError");
    }
  }
}
