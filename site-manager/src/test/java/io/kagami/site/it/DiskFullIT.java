package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.clock.SystemTime;
import io.kagami.testkit.nbd.NbdErrorException;
import io.kagami.testkit.nbd.NbdProtocol;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Disk full on every filesystem a pair writes, one after the other, each a small tmpfs the test
 * mounts: the primary's journal, the primary's volume file, the standby's replica, the standby's
 * journal. For each, a filler file takes the filesystem's last byte while real NBD clients write;
 * the primary's host gets ENOSPC (the NBD error, and qemu-io's "No space left on device"), the
 * affected site says {@code disk-full} in {@code /status}, {@code /health} answers 503, {@code
 * kagami_volume_disk_full} is 1 and a real Prometheus fires {@code KagamiVolumeDiskFull}. Then the
 * filler is deleted and, without a restart, writes and replication resume within seconds; at the
 * end every acknowledged write reads back on the primary and the standby, every refused write left
 * nothing, and the two volumes are byte-identical.
 *
 * <p>Needs root (mount). Seed printed; random data so compression cannot make room.
 */
class DiskFullIT {
  private static final long MiB = 1 << 20;
  private static final int BLOCK = 64 << 10;
  private static final long VOLUME = 64 * MiB;
  private static final Duration T = Duration.ofSeconds(60);

  /** Space returns: the site must be writing and replicating again within this. */
  private static final Duration RESUME = Duration.ofSeconds(15);

  private static final Path RULES =
      Path.of("").toAbsolutePath().getParent().resolve("docs/monitoring/kagami-alerts.yml");

  @TempDir Path dir;

  private final List<Path> mounts = new ArrayList<>();
  private final Map<Long, byte[]> acknowledged = new LinkedHashMap<>();
  private final List<Long> refused = new ArrayList<>();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private Random random;
  private long nextOffset;
  private final Map<String, Duration> resumedAfter = new LinkedHashMap<>();

  @Test
  void everyFilesystemASiteWritesFillsAndHealsWithoutARestart() throws Exception {
    long seed = SystemTime.NANO.nanoTime();
    System.out.println("DiskFullIT seed " + seed);
    random = new Random(seed);
    TwoSites sites = TwoSites.withVolumeOptions(dir, VOLUME, "");
    try {
      // Small journals need a small reserve and WAL; the defaults (64 MiB each) are for disks.
      for (String site : List.of("tokyo", "hiroshima")) {
        Files.writeString(
            dir.resolve(site + ".yaml"),
            "journal: {reserve: 4MiB, walSize: 2MiB}\n",
            StandardOpenOption.APPEND);
      }
      Path primaryJournal = mount(dir.resolve("tokyo/journal"), "40m");
      Path primaryVolumes = mount(dir.resolve("tokyo/volumes"), "96m");
      Path standbyVolumes = mount(dir.resolve("hiroshima/volumes"), "96m");
      Path standbyJournal = mount(dir.resolve("hiroshima/journal"), "40m");
      sites.start();
      try (PrometheusServer prometheus =
              new PrometheusServer(
                      dir.resolve("prometheus"),
                      List.of("127.0.0.1:" + sites.primaryAdmin, "127.0.0.1:" + sites.standbyAdmin),
                      List.of(RULES))
                  .start();
          NbdTestClient host = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        writeAcknowledged(host, 8);
        sites.awaitInSync(T);

        // 1. The primary's journal.
        fill(primaryJournal);
        assertHostGetsEnospc(sites, host, 1);
        assertReported(sites, prometheus, sites.primary, sites.primaryAdmin, "tokyo");
        free(primaryJournal);
        awaitResumed(sites, host, sites.primary, sites.primaryAdmin, "primary journal");

        // 2. The primary's volume file: the first writes are journaled (acknowledged) before the
        // volume file runs out; later ones are refused.
        writeAcknowledged(host, 4);
        sites.awaitInSync(T);
        fill(primaryVolumes);
        assertHostGetsEnospc(sites, host, 64);
        assertReported(sites, prometheus, sites.primary, sites.primaryAdmin, "tokyo");
        free(primaryVolumes);
        awaitResumed(sites, host, sites.primary, sites.primaryAdmin, "primary volume file");

        // 3. The standby's replica: the primary takes writes, the standby cannot apply them.
        sites.awaitInSync(T);
        fill(standbyVolumes);
        writeAcknowledged(host, 16);
        assertReported(sites, prometheus, sites.standby, sites.standbyAdmin, "hiroshima");
        free(standbyVolumes);
        awaitResumed(sites, host, sites.standby, sites.standbyAdmin, "standby replica");

        // 4. The standby's journal: it refuses the primary's batches, which stay in the primary's
        // history until they fit.
        sites.awaitInSync(T);
        fill(standbyJournal);
        writeAcknowledged(host, 16);
        assertReported(sites, prometheus, sites.standby, sites.standbyAdmin, "hiroshima");
        free(standbyJournal);
        awaitResumed(sites, host, sites.standby, sites.standbyAdmin, "standby journal");

        writeAcknowledged(host, 4);
        sites.awaitInSync(T);
        assertEveryAcknowledgedWriteOnBothSites(sites);
      }
      sites.assertReplicaIdentical();
      assertThat(sites.primary.alive() && sites.standby.alive())
          .as("both sites ran throughout (no restart)")
          .isTrue();
      System.out.println(
          "DiskFullIT: acknowledged "
              + acknowledged.size()
              + " writes, refused "
              + refused.size()
              + "; resumed after space returned: "
              + resumedAfter);
    } finally {
      sites.close();
      for (int i = mounts.size() - 1; i >= 0; i--) {
        SmallFilesystems.unmount(mounts.get(i));
      }
    }
  }

  /**
   * With the space guard off ({@code journal.reserve: 0}) nothing stops the journal from meeting a
   * full disk inside RocksDB, after which only a restart can tell which writes its log holds: the
   * site says so and exits with status 75 for its supervisor (systemd's {@code Restart=on-failure})
   * to start it again; once space is back the restarted site serves every acknowledged write.
   */
  @Test
  void aJournalThatBreaksInsideRocksDbExitsForItsSupervisorAndLosesNothing() throws Exception {
    long seed = SystemTime.NANO.nanoTime();
    System.out.println("DiskFullIT seed " + seed);
    random = new Random(seed);
    TwoSites sites = TwoSites.withVolumeOptions(dir, VOLUME, "");
    try {
      Files.writeString(
          dir.resolve("tokyo.yaml"),
          "journal: {reserve: 0, walSize: 1MiB}\n",
          StandardOpenOption.APPEND);
      Path journal = mount(dir.resolve("tokyo/journal"), "40m");
      sites.start();
      try (NbdTestClient host = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        writeAcknowledged(host, 8);
        sites.standby.stop(); // history stays in the journal: it must grow into the full disk
        fill(journal);
        // Until the journal breaks: 512-byte writes, whose records RocksDB keeps inline (larger
        // ones go to segment files, whose ENOSPC the journal heals from by itself); the WAL's
        // preallocated block takes some still, then a write or a flush meets the full disk.
        long small = freshOffset() + BLOCK; // past everything fresh offsets handed out so far
        for (int i = 0; i < 6000 && sites.primary.exited().isEmpty(); i++) {
          long at = small + 512L * i;
          byte[] d = java.util.Arrays.copyOf(data(), 512);
          try {
            host.write(at, d).get(10, TimeUnit.SECONDS);
            acknowledged.put(at, d);
          } catch (ExecutionException refusedOrGone) {
            refused.add(at);
            if (host.closed().isDone()) {
              break;
            }
          }
        }
      }
      System.out.println(
          "DiskFullIT: after the fill "
              + acknowledged.size()
              + " acknowledged, "
              + refused.size()
              + " refused");
      int status = sites.primary.awaitExit(Duration.ofSeconds(30));
      assertThat(status)
          .as("the primary's exit after its journal broke (log: %s)", sites.primary.log())
          .isEqualTo(75);
      assertThat(sites.primary.log()).contains("kagami: exiting with status 75");
      free(journal);
      sites.primary.start(); // what the supervisor does
      try (NbdTestClient host = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        for (Map.Entry<Long, byte[]> e : acknowledged.entrySet()) {
          assertThat(host.read(e.getKey(), e.getValue().length).get(10, TimeUnit.SECONDS))
              .as("acknowledged write at 0x%x after the restart", e.getKey())
              .isEqualTo(e.getValue());
        }
        writeAcknowledged(host, 8);
      }
      System.out.println(
          "DiskFullIT: journal broke inside RocksDB after "
              + acknowledged.size()
              + " acknowledged writes; exit 75, restarted, all of them served");
    } finally {
      sites.close();
      for (int i = mounts.size() - 1; i >= 0; i--) {
        SmallFilesystems.unmount(mounts.get(i));
      }
    }
  }

  /**
   * The journal's up-front allocation is bounded by default: on a 300 MiB filesystem (where the
   * RocksDB WAL alone used to take ~280 MiB, leaving room for 9 MiB of writes) the history a
   * primary keeps for an absent standby fills most of it before the host sees ENOSPC.
   */
  @Test
  void aJournalWithDefaultSettingsLeavesMostOfASmallFilesystemToHistory() throws Exception {
    random = new Random(SystemTime.NANO.nanoTime());
    TwoSites sites = TwoSites.withVolumeOptions(dir, 512 * MiB, "");
    try {
      Path journal = mount(dir.resolve("tokyo/journal"), "300m");
      sites.start();
      long usedAtStart = used(journal);
      sites.standby.stop(); // history stays in the primary's journal
      long written = 0;
      try (NbdTestClient host = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        NbdErrorException refusedWith = null;
        for (long at = 0; at + BLOCK <= 512 * MiB && refusedWith == null; at += BLOCK) {
          try {
            host.write(at, data()).get(10, TimeUnit.SECONDS);
            written += BLOCK;
          } catch (ExecutionException e) {
            refusedWith = (NbdErrorException) e.getCause();
          }
        }
        assertThat(refusedWith).as("the 300 MiB journal filesystem filling up").isNotNull();
        assertThat(refusedWith.errorCode()).isEqualTo(NbdProtocol.ENOSPC);
      }
      System.out.println(
          "DiskFullIT: journal on 300 MiB: "
              + usedAtStart / MiB
              + " MiB used after start, "
              + written / MiB
              + " MiB of writes acknowledged before ENOSPC");
      assertThat(usedAtStart)
          .as("journal space allocated up front (journal.walSize default 64 MiB)")
          .isLessThanOrEqualTo(80 * MiB);
      assertThat(written)
          .as("writes a 300 MiB journal filesystem holds (300 - 64 MiB WAL - 64 MiB reserve)")
          .isGreaterThanOrEqualTo(150 * MiB);
    } finally {
      sites.close();
      for (int i = mounts.size() - 1; i >= 0; i--) {
        SmallFilesystems.unmount(mounts.get(i));
      }
    }
  }

  private static long used(Path fs) throws IOException {
    java.nio.file.FileStore store = Files.getFileStore(fs);
    return store.getTotalSpace() - store.getUsableSpace();
  }

  /** A tmpfs of {@code size} at {@code at}, unmounted at the end of the test. */
  private Path mount(Path at, String size) throws IOException, InterruptedException {
    mounts.add(SmallFilesystems.mount(at, size));
    return at;
  }

  private static void fill(Path fs) throws IOException {
    SmallFilesystems.fill(fs);
  }

  private static void free(Path fs) throws IOException {
    SmallFilesystems.free(fs);
  }

  private byte[] data() {
    byte[] b = new byte[BLOCK];
    random.nextBytes(b);
    return b;
  }

  private long freshOffset() {
    long at = nextOffset;
    nextOffset += BLOCK;
    assertThat(at + BLOCK).as("fresh offsets left in the volume").isLessThanOrEqualTo(VOLUME);
    return at;
  }

  /** {@code n} writes at fresh offsets, each of which must be acknowledged. */
  private void writeAcknowledged(NbdTestClient host, int n) throws Exception {
    for (int i = 0; i < n; i++) {
      long at = freshOffset();
      byte[] d = data();
      host.write(at, d).get(10, TimeUnit.SECONDS);
      acknowledged.put(at, d);
    }
  }

  /**
   * Writes at fresh offsets until one is refused, at most {@code attempts}; the refusal must be
   * ENOSPC (NBD error 28), later writes too, and qemu-io, a real host, must say so.
   */
  private void assertHostGetsEnospc(TwoSites sites, NbdTestClient host, int attempts)
      throws Exception {
    NbdErrorException first = null;
    for (int i = 0; i < attempts && first == null; i++) {
      long at = freshOffset();
      byte[] d = data();
      try {
        host.write(at, d).get(10, TimeUnit.SECONDS);
        acknowledged.put(at, d);
      } catch (ExecutionException e) {
        assertThat(e.getCause()).isInstanceOf(NbdErrorException.class);
        first = (NbdErrorException) e.getCause();
        refused.add(at);
      }
    }
    assertThat(first)
        .as("a write refused within %d writes of the disk filling", attempts)
        .isNotNull();
    assertThat(first.errorCode())
        .as("the host's error for a write the full disk cannot take: %s", first.getMessage())
        .isEqualTo(NbdProtocol.ENOSPC);
    long at = freshOffset();
    refused.add(at);
    ExternalTool.Result qemu =
        ExternalTool.require("qemu-io")
            .run(T, "-f", "raw", "-c", "write -P 0x5a " + at + " " + BLOCK, sites.primaryUri());
    assertThat(qemu.output())
        .as("qemu-io writing while the disk is full: %s", qemu.describe())
        .contains("No space left on device");
  }

  private int health(int adminPort) {
    try {
      return http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + "/health"))
                  .timeout(Duration.ofSeconds(2))
                  .build(),
              HttpResponse.BodyHandlers.ofString())
          .statusCode();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /** Status, /health, the metric and a firing alert in Prometheus all say disk-full. */
  private void assertReported(
      TwoSites sites, PrometheusServer prometheus, SiteProcess site, int adminPort, String siteId)
      throws Exception {
    JsonNode s =
        site.awaitStatus(
            st ->
                TwoSites.vol0(st).path("state").asText().equals("disk-full")
                    && health(adminPort) == 503,
            T,
            siteId + " reporting vol0 disk-full in /status and 503 on /health");
    assertThat(TwoSites.vol0(s).path("error").asText())
        .as("what /status says is full")
        .containsIgnoringCase("full");
    assertThat(site.metrics())
        .contains(
            "kagami_volume_disk_full{peer=\""
                + (siteId.equals("tokyo") ? "hiroshima" : "tokyo")
                + "\",site=\""
                + siteId
                + "\",volume=\"vol0\"} 1.0");
    prometheus.await(
        "KagamiVolumeDiskFull firing for " + siteId,
        T,
        () -> {
          for (JsonNode a : prometheus.alerts()) {
            if (a.path("labels").path("alertname").asText().equals("KagamiVolumeDiskFull")
                && a.path("labels").path("site").asText().equals(siteId)
                && a.path("state").asText().equals("firing")) {
              return true;
            }
          }
          return false;
        });
  }

  /**
   * After the filler is gone: a write goes through, the site leaves disk-full and /health is 200,
   * all within {@link #RESUME}, and the standby catches up.
   */
  private void awaitResumed(
      TwoSites sites, NbdTestClient host, SiteProcess site, int adminPort, String what)
      throws Exception {
    long freed = SystemTime.NANO.nanoTime();
    long at = freshOffset();
    byte[] d = data();
    // The first write after space returns may still race the site noticing it: retry it, bounded.
    IOException last = null;
    boolean written = false;
    while (!written && SystemTime.NANO.nanosSince(freed) < RESUME.toNanos()) {
      try {
        host.write(at, d).get(10, TimeUnit.SECONDS);
        written = true;
      } catch (ExecutionException e) {
        last = (IOException) e.getCause();
        site.awaitStatus(st -> true, T, "a status round trip between write attempts");
      }
    }
    assertThat(written).as("a write after freeing the %s (last error %s)", what, last).isTrue();
    acknowledged.put(at, d);
    site.awaitStatus(
        st ->
            !TwoSites.vol0(st).path("state").asText().equals("disk-full")
                && health(adminPort) == 200,
        RESUME,
        what + ": state leaves disk-full and /health is 200 again");
    sites.awaitInSync(RESUME);
    resumedAfter.put(what, Duration.ofNanos(SystemTime.NANO.nanosSince(freed)));
  }

  private void assertEveryAcknowledgedWriteOnBothSites(TwoSites sites) throws Exception {
    try (NbdTestClient p = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0");
        NbdTestClient s = NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0")) {
      for (Map.Entry<Long, byte[]> w : acknowledged.entrySet()) {
        assertThat(p.read(w.getKey(), BLOCK).get(10, TimeUnit.SECONDS))
            .as("primary at offset 0x%x: an acknowledged write", w.getKey())
            .isEqualTo(w.getValue());
        assertThat(s.read(w.getKey(), BLOCK).get(10, TimeUnit.SECONDS))
            .as("standby replica at offset 0x%x: an acknowledged write", w.getKey())
            .isEqualTo(w.getValue());
      }
      byte[] zeroes = new byte[BLOCK];
      for (long at : refused) {
        assertThat(p.read(at, BLOCK).get(10, TimeUnit.SECONDS))
            .as("primary at offset 0x%x: a write refused with ENOSPC left nothing", at)
            .isEqualTo(zeroes);
      }
    }
  }
}
