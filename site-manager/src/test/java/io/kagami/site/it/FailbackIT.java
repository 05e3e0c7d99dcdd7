package io.kagami.site.it;

import static io.kagami.site.it.PromoteIT.cli;
import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.site.it.PromoteIT.Cli;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.toxi.Toxiproxies;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Executes {@code docs/runbooks/failover.md} then {@code docs/runbooks/failback.md} with the CLI
 * verbs they show, against real processes: the primary takes writes the standby never receives
 * (link cut, async), dies; the standby is promoted and written to; the old primary returns, {@code
 * kagami failback} makes it the standby. Its writes after the fork are saved aside, exactly the
 * regions changed on either side are copied (counted), the sites end byte-identical, and a
 * switchover returns production to the original site.
 */
class FailbackIT {
  private static final long VOLUME = 64L << 20;
  private static final int GRANULARITY = 64 << 10;
  private static final Duration T = Duration.ofMinutes(2);
  @TempDir Path dir;

  private record Write(long offset, byte[] data) {}

  private static List<Write> writes(Random rnd, int n, int size) {
    List<Write> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] data = new byte[size];
      rnd.nextBytes(data);
      out.add(new Write((long) rnd.nextInt((int) (VOLUME / size)) * size, data));
    }
    return out;
  }

  private static void write(int port, List<Write> writes) throws Exception {
    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", port, "vol0")) {
      for (Write w : writes) {
        c.write(w.offset(), w.data()).get(30, TimeUnit.SECONDS);
      }
      c.flush().get(30, TimeUnit.SECONDS);
    }
  }

  private static TreeSet<Long> regions(List<Write> writes) {
    TreeSet<Long> out = new TreeSet<>();
    for (Write w : writes) {
      for (long r = w.offset() / GRANULARITY;
          r <= (w.offset() + w.data().length - 1) / GRANULARITY;
          r++) {
        out.add(r);
      }
    }
    return out;
  }

  @Test
  void theOldPrimaryRejoinsAsStandbyCopyingOnlyWhatChangedOnEitherSide() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    System.out.println("FailbackIT seed=" + seed);
    Random rnd = new Random(seed);
    try (Toxiproxies toxi = Toxiproxies.start(seed);
        TwoSites sites =
            TwoSites.throughProxy(dir, VOLUME, "bitmapGranularity: 64KiB", toxi).start()) {
      String tokyo = "127.0.0.1:" + sites.primaryAdmin;
      String hiroshima = "127.0.0.1:" + sites.standbyAdmin;
      write(sites.primaryNbd, writes(rnd, 200, 4096)); // shared history A
      sites.awaitInSync(T);

      // The link fails; the primary keeps acknowledging (async) writes B that never leave it, then
      // dies.
      sites.wanProxy.disable();
      List<Write> lost = writes(rnd, 6, 8192);
      write(sites.primaryNbd, lost);
      sites.primary.kill9();

      // failover.md: promote the standby; hosts write C to it.
      Cli promoted = cli("promote", "--admin", hiroshima);
      assertThat(promoted.exit()).as(promoted.output()).isZero();
      List<Write> after = new ArrayList<>(writes(rnd, 5, 4096));
      after.add(new Write(lost.get(0).offset(), new byte[4096])); // over one of the lost writes
      write(sites.standbyNbd, after);

      // failback.md 1: mark the stopped old primary for failback; 2: start it, as the standby.
      sites.wanProxy.enable();
      Cli failback = cli("failback", "--config", dir.resolve("tokyo.yaml").toString());
      assertThat(failback.exit()).as(failback.output()).isZero();
      assertThat(failback.output()).contains("site tokyo will start as the standby of hiroshima");
      sites.primary.start();
      assertThat(sites.primary.status().path("role").asText()).isEqualTo("standby");
      // kagami run says the role it runs in, not the one its configuration names (primary).
      sites.primary.awaitStatus(
          s -> logContains(sites.primary, "kagami: site tokyo (standby) running"),
          T,
          "kagami run announcing tokyo as the standby");
      Cli again = cli("failback", "--admin", tokyo);
      assertThat(again.exit()).isNotZero();
      assertThat(again.output()).contains("already a standby");

      // 3. The resynchronization ends; both sites hold the new primary's data.
      SwitchoverIT.awaitReplicated(sites.standby, sites.primary);
      sites.primary.awaitStatus(
          s -> TwoSites.vol0(s).path("state").asText().equals("replicating"),
          T,
          "tokyo's replica consistent");
      sites.assertReplicaIdentical();
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", sites.primaryNbd, "vol0")) {
        assertThat(c.isReadOnly()).isTrue();
        for (Write w : after) {
          assertThat(c.read(w.offset(), w.data().length).get(30, TimeUnit.SECONDS))
              .as("write at %d made on hiroshima after the promotion", w.offset())
              .isEqualTo(w.data());
        }
      }
      // Only the regions changed on either side since the fork were copied.
      TreeSet<Long> changed = regions(lost);
      changed.addAll(regions(after));
      Matcher m = Pattern.compile("resync of (\\d+) regions").matcher(sites.standby.log());
      assertThat(m.find()).as("hiroshima logs the resync").isTrue();
      assertThat(Long.parseLong(m.group(1)))
          .as("regions copied back (changed on either side: %s)", changed)
          .isEqualTo(changed.size());
      assertThat(sites.primary.log()).contains("discarded this site's writes after seq");

      // 4. The lost writes are saved aside, at their offsets, in a sparse image of the volume.
      Path saved = dir.resolve("tokyo").resolve("saved");
      Path image;
      try (Stream<Path> files = Files.list(saved)) {
        image = files.filter(p -> p.toString().endsWith(".img")).findFirst().orElseThrow();
      }
      assertThat(
              Files.readString(
                  saved.resolve(image.getFileName().toString().replace(".img", ".txt"))))
          .contains(" write " + lost.get(0).offset() + " 8192");
      try (FileChannel ch = FileChannel.open(image)) {
        assertThat(ch.size()).isEqualTo(VOLUME);
        for (Write w : lost) {
          ByteBuffer got = ByteBuffer.allocate(w.data().length);
          ch.read(got, w.offset());
          assertThat(got.array()).as("saved-aside write at %d", w.offset()).isEqualTo(w.data());
        }
      }

      // Replication continues from the new primary to the old one.
      write(sites.standbyNbd, writes(rnd, 20, 4096));
      SwitchoverIT.awaitReplicated(sites.standby, sites.primary);

      // 5. Production returns to the original site with a switchover.
      Cli back = cli("switchover", "--admin", hiroshima);
      assertThat(back.exit()).as(back.output()).isZero();
      assertThat(sites.primary.status().path("role").asText()).isEqualTo("primary");
      write(sites.primaryNbd, writes(rnd, 20, 4096));
      SwitchoverIT.awaitReplicated(sites.primary, sites.standby);
      sites.assertReplicaIdentical();
    }
  }

  private static boolean logContains(SiteProcess site, String line) {
    try {
      return site.log().contains(line);
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
