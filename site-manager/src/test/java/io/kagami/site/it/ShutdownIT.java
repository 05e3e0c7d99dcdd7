package io.kagami.site.it;

import static io.kagami.site.it.PromoteIT.cli;
import static org.assertj.core.api.Assertions.assertThat;

import io.kagami.clock.SystemTime;
import io.kagami.site.it.PromoteIT.Cli;
import io.kagami.testkit.nbd.NbdTestClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SIGTERM is bounded whatever the site did before: after a switchover round trip, a promotion, a
 * failback and with a drill running, each real site process exits within {@link #BOUND} of SIGTERM
 * while a host still has writes in flight to the primary. Every measured time is printed; each
 * site's log says what its shutdown waited for ("closed in … ms").
 */
class ShutdownIT {
  private static final long VOLUME = 64L << 20;
  private static final Duration T = Duration.ofMinutes(2);

  /** Acceptance e): SIGTERM after a role change completes within 10 s. */
  static final Duration BOUND = Duration.ofSeconds(10);

  @TempDir Path dir;

  @Test
  void sigtermAfterASwitchoverRoundTripIsBounded() throws Exception {
    try (TwoSites sites =
        TwoSites.withVolumeOptions(dir, VOLUME, "mode: sync, onSyncTimeout: block").start()) {
      String tokyo = "127.0.0.1:" + sites.primaryAdmin;
      String hiroshima = "127.0.0.1:" + sites.standbyAdmin;
      try (Host _ = Host.writing(sites.primaryNbd, 200)) {
        Cli there = cli("switchover", "--admin", tokyo);
        assertThat(there.exit()).as(there.output()).isZero();
      }
      try (Host _ = Host.writing(sites.standbyNbd, 200)) {
        Cli back = cli("switchover", "--admin", hiroshima);
        assertThat(back.exit()).as(back.output()).isZero();
      }
      try (Host _ = Host.writing(sites.primaryNbd, 200)) {
        measure(sites.primary, "tokyo (primary, writes in flight) after a switchover round trip");
        measure(sites.standby, "hiroshima (standby) after a switchover round trip");
      }
    }
  }

  @Test
  void sigtermAfterAPromotionIsBounded() throws Exception {
    try (TwoSites sites = TwoSites.withVolumeOptions(dir, VOLUME, "").start()) {
      try (Host _ = Host.writing(sites.primaryNbd, 200)) {
        measure(sites.primary, "tokyo (primary, writes in flight) before the promotion");
      }
      Cli promoted = cli("promote", "--admin", "127.0.0.1:" + sites.standbyAdmin);
      assertThat(promoted.exit()).as(promoted.output()).isZero();
      try (Host _ = Host.writing(sites.standbyNbd, 200)) {
        measure(sites.standby, "hiroshima (promoted primary, writes in flight) after a promotion");
      }
    }
  }

  @Test
  void sigtermAfterAFailbackIsBounded() throws Exception {
    try (TwoSites sites = TwoSites.withVolumeOptions(dir, VOLUME, "").start()) {
      try (Host _ = Host.writing(sites.primaryNbd, 200)) {
        sites.primary.kill9();
      }
      Cli promoted = cli("promote", "--admin", "127.0.0.1:" + sites.standbyAdmin);
      assertThat(promoted.exit()).as(promoted.output()).isZero();
      Cli failback = cli("failback", "--config", dir.resolve("tokyo.yaml").toString());
      assertThat(failback.exit()).as(failback.output()).isZero();
      sites.primary.start();
      sites.primary.awaitStatus(
          s -> TwoSites.vol0(s).path("state").asText().equals("replicating"),
          T,
          "tokyo replicating as the standby of hiroshima after the failback");
      try (Host _ = Host.writing(sites.standbyNbd, 200)) {
        measure(sites.primary, "tokyo (standby, receiving) after a failback");
        measure(sites.standby, "hiroshima (primary, writes in flight) after a failback");
      }
    }
  }

  @Test
  void sigtermDuringADrillIsBounded() throws Exception {
    try (TwoSites sites = TwoSites.withVolumeOptions(dir, VOLUME, "retention: 10m").start()) {
      String standbyAdmin = "127.0.0.1:" + sites.standbyAdmin;
      try (Host _ = Host.writing(sites.primaryNbd, 200)) {
        Cli started = cli("drill", "start", "--volume", "vol0", "--admin", standbyAdmin);
        assertThat(started.exit()).as(started.output()).isZero();
        try (NbdTestClient clone =
            NbdTestClient.connect("127.0.0.1", sites.standbyNbd, "vol0-drill")) {
          clone.write(0, new byte[4096]).get(30, TimeUnit.SECONDS);
        }
        measure(sites.standby, "hiroshima (standby, drill running) while the primary writes");
        measure(sites.primary, "tokyo (primary, writes in flight) after the standby's drill");
      }
    }
  }

  private static void measure(SiteProcess site, String after) throws Exception {
    Duration took = site.stopWithin(BOUND, after);
    String closed =
        site.log()
            .lines()
            .filter(l -> l.contains(" closed in ") && l.contains("waited for:"))
            .reduce((a, b) -> b)
            .orElse("(no \"closed in\" line)");
    System.out.printf(
        "ShutdownIT: SIGTERM of %s: exited in %d ms; its log: %s%n",
        after, took.toMillis(), closed.substring(Math.max(0, closed.indexOf("site "))));
    assertThat(took).as("SIGTERM of %s", after).isLessThan(BOUND);
    assertThat(closed)
        .as("the log of %s says what the shutdown waited for", after)
        .contains("closed in")
        .contains("waited for:");
    assertThat(site.log())
        .as("the shutdown of %s overran nothing", after)
        .doesNotContain("still stopping after")
        .doesNotContain("shutdown stopped waiting");
  }

  /** A host writing to {@code nbdPort}'s vol0 until closed or its connection ends. */
  private static final class Host implements AutoCloseable {
    private final CrashIT.Writer writer = new CrashIT.Writer(SystemTime.NANO.nanoTime());
    private final Thread thread;

    private Host(int nbdPort) {
      thread =
          Thread.ofPlatform()
              .name("shutdown-it-host")
              .start(
                  () -> {
                    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", nbdPort, "vol0")) {
                      writer.run(c, Long.MAX_VALUE, Long.MAX_VALUE, () -> {});
                    } catch (Exception e) {
                      // the site stopped under the host: expected
                    }
                  });
    }

    /** Starts writing and returns once {@code acks} writes were acknowledged. */
    static Host writing(int nbdPort, long acks) throws InterruptedException {
      Host h = new Host(nbdPort);
      assertThat(h.writer.awaitAcks(acks, T))
          .as("the host got %d writes acknowledged within %s", acks, T)
          .isTrue();
      return h;
    }

    @Override
    public void close() {
      writer.stop();
      try {
        thread.join(T.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
