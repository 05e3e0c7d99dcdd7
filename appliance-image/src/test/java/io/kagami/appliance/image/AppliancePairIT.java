package io.kagami.appliance.image;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Two appliances booted from the image under QEMU (TCG), seeded as primary (tokyo) and standby
 * (hiroshima), joined only by a UDP socket network between their WAN NICs; the host reaches each
 * one's NBD and admin ports through QEMU's user-mode forwards on loopback. The steps share the
 * booted pair and run in order (issue #15, acceptance b, c, d):
 *
 * <ol>
 *   <li>a write through the primary's NBD port reads back byte-identical from the standby's;
 *   <li>{@code kagami status} on the host sees both sites;
 *   <li>a power cut of the primary under writes, then boot: every write acknowledged before a
 *       completed FLUSH is there, and replication resumes from the standby's durable point;
 *   <li>that second boot did not run the first-boot configuration again;
 *   <li>a newer package installed inside the running primary keeps its data and pairing.
 * </ol>
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AppliancePairIT {
  private static final Duration BOOT = Duration.ofMinutes(6);
  private static final Duration SYNC = Duration.ofMinutes(3);
  private static final int BLOCK = 64 * 1024;

  /** Power-cut writes go to blocks from here on, clear of the first step's data. */
  private static final long CUT_BASE = 8L << 20;

  private final long seed =
      Long.getLong("kagami.test.seed", System.identityHashCode(this) * 31L + 17);
  private final Random random = new Random(seed);
  private Path work;
  private Path deb;
  private PairSeeds.Site tokyo;
  private PairSeeds.Site hiroshima;
  private ApplianceVm primary;
  private ApplianceVm standby;
  private int secondBootMark = -1;
  private int durableBlocks;

  @BeforeAll
  void bootPair() throws Exception {
    System.out.println(
        "AppliancePairIT seed " + seed + " (replay: -Dkagami.test.seed=" + seed + ")");
    work = Path.of("target/appliance-it").toAbsolutePath();
    ExternalTool.require("rm").runOk(Duration.ofMinutes(1), "-rf", work.toString());
    Files.createDirectories(work);
    deb = ImageScripts.kagamiDeb();
    ImageScripts.BuiltImage built = ImageScripts.buildAppliance(deb);
    System.out.printf(
        "appliance image %s (%d MiB): %s in %.1f s%n",
        built.image(),
        Files.size(built.image()) >> 20,
        built.fromCache() ? "from the cache" : "built",
        built.buildTime().toMillis() / 1000.0);

    tokyo = PairSeeds.site("tokyo", "primary", "192.168.77.1", "52:54:00:77:00:01", random);
    hiroshima = PairSeeds.site("hiroshima", "standby", "192.168.77.2", "52:54:00:77:00:02", random);
    int[] udp = freeUdpPorts(2);
    int[] tcp = FreePorts.loopbackPorts(4);
    standby =
        ApplianceVm.create(
            new ApplianceVm.Spec(
                "hiroshima",
                work.resolve("hiroshima"),
                built.image(),
                PairSeeds.write(hiroshima, tokyo, work),
                tcp[0],
                tcp[1],
                udp[0],
                udp[1],
                hiroshima.wanMac(),
                1024));
    primary =
        ApplianceVm.create(
            new ApplianceVm.Spec(
                "tokyo",
                work.resolve("tokyo"),
                built.image(),
                PairSeeds.write(tokyo, hiroshima, work),
                tcp[2],
                tcp[3],
                udp[1],
                udp[0],
                tokyo.wanMac(),
                1024));
    // admin.listen 0.0.0.0 speaks HTTPS, presenting the site certificate the seed carries.
    standby.adminTls(siteCertificate(hiroshima));
    primary.adminTls(siteCertificate(tokyo));
    standby.boot();
    primary.boot();
    for (ApplianceVm vm : List.of(standby, primary)) {
      PairSeeds.Site site = vm == primary ? tokyo : hiroshima;
      vm.awaitConsole(
          "kagami-firstboot: applied seed " + site.instanceId(),
          BOOT,
          "first boot applying seed " + site.instanceId());
      vm.awaitAdmin("/health", BOOT, "the site answering on its admin port");
      System.out.printf(
          "%s: boot to ready (admin /health answers) %.1f s%n", vm.name(), vm.secondsSinceBoot());
    }
    awaitStatus(
        primary,
        s -> s.path("link").path("connected").asBoolean(),
        SYNC,
        "the primary's WAN link to the standby up");
  }

  /** The certificate {@link PairSeeds} gave {@code site} (its admin port presents it too). */
  private Path siteCertificate(PairSeeds.Site site) {
    return work.resolve("keys").resolve(site.id()).resolve("tls/site.crt");
  }

  @AfterAll
  void powerOff() {
    for (ApplianceVm vm : Arrays.asList(primary, standby)) {
      if (vm != null) {
        vm.close();
      }
    }
  }

  @Test
  @Order(1)
  void writeThroughPrimaryReadsBackIdenticalFromStandby() throws Exception {
    byte[] data = new byte[4 << 20];
    random.nextBytes(data);
    Path file = work.resolve("written.bin");
    Files.write(file, data);
    ExternalTool.require("nbdcopy")
        .runOk(Duration.ofMinutes(3), "--flush", file.toString(), nbdUri(primary));
    awaitInSync();
    ExternalTool.Result cmp =
        ExternalTool.require("qemu-img")
            .run(
                Duration.ofMinutes(3),
                "compare",
                "-f",
                "raw",
                "-F",
                "raw",
                file.toString(),
                nbdUri(standby));
    assertThat(cmp.exitCode())
        .as(
            "the standby appliance's replica of %s matches what was written through the primary appliance: %s",
            PairSeeds.VOLUME, cmp.output())
        .isZero();
  }

  @Test
  @Order(2)
  void kagamiStatusFromTheHostSeesBothAppliances() throws Exception {
    ExternalTool.Result p = hostStatus(primary, tokyo);
    ExternalTool.Result s = hostStatus(standby, hiroshima);
    System.out.println(p.stdout() + "\n" + s.stdout());
    assertThat(p.stdout())
        .as("kagami status of the primary appliance")
        .contains("site tokyo", "role primary", PairSeeds.VOLUME);
    assertThat(s.stdout())
        .as("kagami status of the standby appliance")
        .contains("site hiroshima", "role standby", PairSeeds.VOLUME);
    // The console's status screen reads the HTTPS admin port too: its journal line (forwarded to
    // the serial console) names the site, its role and the link.
    for (ApplianceVm vm : List.of(primary, standby)) {
      String site = vm == primary ? "site=tokyo role=primary" : "site=hiroshima role=standby";
      vm.console()
          .await(
              0,
              java.util.regex.Pattern.compile("kagami-status.*" + site + " link=up"),
              Duration.ofMinutes(3),
              "the status console's line for " + site + " with the link up");
    }
  }

  /**
   * {@code kagami status} from the host against {@code vm}'s HTTPS admin port. Up to five tries
   * while it answers "unreachable" (exit 4): the CLI gives a site 5 s to accept and finish the TLS
   * handshake, which an emulated (TCG) appliance on a busy 2-CPU host may miss now and then; any
   * other outcome is final.
   */
  private ExternalTool.Result hostStatus(ApplianceVm vm, PairSeeds.Site site) throws Exception {
    ExternalTool.Result r = null;
    for (int attempt = 1; attempt <= 5; attempt++) {
      r =
          HostKagami.run(
              Duration.ofMinutes(1),
              "status",
              "--admin",
              vm.adminUrl(),
              "--admin-ca",
              siteCertificate(site).toString());
      if (r.exitCode() != 4) {
        break;
      }
      System.out.printf("%s: kagami status unreachable (try %d of 5)%n", vm.name(), attempt);
    }
    return r.requireSuccess();
  }

  @Test
  @Order(3)
  void powerCutUnderWritesKeepsFlushedWritesAndResumesWithoutFullCopy() throws Exception {
    AtomicInteger durable = new AtomicInteger();
    AtomicReference<Throwable> writerEnd = new AtomicReference<>();
    long blockSeed = random.nextLong();
    int maxBlocks = (int) ((64L << 20) - CUT_BASE) / BLOCK;
    NbdTestClient client =
        NbdTestClient.connect(
            new InetSocketAddress("127.0.0.1", primary.nbdPort()), PairSeeds.VOLUME);
    Thread writer =
        new Thread(
            () -> {
              try {
                // Batches of 8 writes; once all 8 are acknowledged a FLUSH goes out, and only its
                // reply makes them durable (what NBD promises for FLUSH).
                for (int i = 0; i + 8 <= maxBlocks; i += 8) {
                  List<CompletableFuture<Void>> acks = new ArrayList<>();
                  for (int b = i; b < i + 8; b++) {
                    acks.add(client.write(CUT_BASE + (long) b * BLOCK, block(blockSeed, b)));
                  }
                  CompletableFuture.allOf(acks.toArray(CompletableFuture[]::new))
                      .get(60, TimeUnit.SECONDS);
                  client.flush().get(60, TimeUnit.SECONDS);
                  durable.set(i + 8);
                }
              } catch (Throwable t) {
                writerEnd.set(t);
              }
            },
            "power-cut-writer");
    writer.start();
    // Cut while writes are in flight, once a good number are durable.
    long standbyDurableBefore;
    try (client) {
      awaitCondition(
          () -> durable.get() >= 160 || !writer.isAlive(),
          Duration.ofMinutes(4),
          "160 flushed writes through the primary");
      assertThat(writer.isAlive())
          .as("the writer still writing when the power is cut (it ended with %s)", writerEnd.get())
          .isTrue();
      standbyDurableBefore =
          vol0(standby.awaitAdmin("/status", Duration.ofSeconds(30), "standby status"))
              .path("lastJournaledSeq")
              .asLong();
      primary.powerCut();
      writer.join(TimeUnit.MINUTES.toMillis(2));
    }
    durableBlocks = durable.get();
    System.out.printf(
        "power cut after %d flushed writes (writer: %s); the standby had journaled up to seq %d%n",
        durableBlocks, writerEnd.get(), standbyDurableBefore);

    secondBootMark = primary.console().mark();
    primary.boot();
    primary.awaitAdmin("/health", BOOT, "the primary site back after the power cut");
    System.out.printf("tokyo: boot after power cut to ready %.1f s%n", primary.secondsSinceBoot());
    try (NbdTestClient c =
        NbdTestClient.connect(
            new InetSocketAddress("127.0.0.1", primary.nbdPort()), PairSeeds.VOLUME)) {
      verifyBlocks(c, blockSeed, durableBlocks, "primary appliance after the power cut");
    }
    JsonNode p = awaitInSync();
    assertThat(p.path("resumedFromSeq").asLong(-1))
        .as(
            "the primary resumed shipping from the standby's durable point (seq >= %d), not from the start",
            standbyDurableBefore)
        .isGreaterThanOrEqualTo(standbyDurableBefore)
        .isPositive();
    assertThat(p.path("resync").isMissingNode() || p.path("resync").isNull())
        .as("no region copy (full or partial) after the power cut: %s", p)
        .isTrue();
    try (NbdTestClient c =
        NbdTestClient.connect(
            new InetSocketAddress("127.0.0.1", standby.nbdPort()), PairSeeds.VOLUME)) {
      verifyBlocks(
          c, blockSeed, durableBlocks, "standby appliance's replica after the primary's power cut");
    }
  }

  @Test
  @Order(4)
  void secondBootDoesNotRerunFirstBootConfiguration() throws Exception {
    assertThat(secondBootMark)
        .as("the power-cut step booted the primary a second time")
        .isNotNegative();
    String line =
        primary
            .console()
            .await(
                secondBootMark,
                java.util.regex.Pattern.compile(
                    "kagami-firstboot: (seed .* already applied|applied seed)"),
                BOOT,
                "first boot's verdict on the second boot");
    assertThat(line)
        .as("first boot on the second boot of tokyo")
        .contains("seed " + tokyo.instanceId() + " already applied");
    assertThat(
            primary
                .console()
                .find(
                    secondBootMark,
                    java.util.regex.Pattern.compile("kagami-firstboot: applied seed")))
        .as("first-boot configuration applied again on the second boot")
        .isEmpty();
  }

  @Test
  @Order(5)
  void packageUpgradeInsideRunningApplianceKeepsDataAndPairing() throws Exception {
    Path newer = ImageScripts.newerVersion(deb, work);
    Path medium = ImageScripts.makeUpgradeMedium(newer, work.resolve("upgrade.img"));
    String version = newer.getFileName().toString().replaceAll("^kagami_(.*)_amd64\\.deb$", "$1");
    String startBefore = metric(primary, "process_start_time_seconds");
    int mark = primary.console().mark();
    primary.hotplugDisk("upgrade", medium);
    primary
        .console()
        .await(
            mark,
            java.util.regex.Pattern.compile("kagami-upgrade: (installed kagami|error)"),
            Duration.ofMinutes(6),
            "the upgrade from the attached medium");
    assertThat(
            primary
                .console()
                .find(
                    mark,
                    java.util.regex.Pattern.compile(
                        "kagami-upgrade: installed kagami "
                            + java.util.regex.Pattern.quote(version)
                            + " ")))
        .as("the appliance installed kagami %s; console:\n%s", version, primary.console().tail(30))
        .isPresent();
    awaitCondition(
        () -> !startBefore.equals(metricOrEmpty(primary, "process_start_time_seconds")),
        Duration.ofMinutes(4),
        "the site restarted on the new package");
    primary.awaitAdmin("/health", BOOT, "the primary site answering after the upgrade");

    // Data kept: what the first step wrote is still there on both sides.
    Path first = work.resolve("written.bin");
    ExternalTool qemuImg = ExternalTool.require("qemu-img");
    for (ApplianceVm vm : List.of(primary, standby)) {
      // Only the first step's range: the power-cut step wrote beyond it.
      ExternalTool.Result cmp =
          qemuImg.run(
              Duration.ofMinutes(3),
              "compare",
              "--image-opts",
              "driver=raw,file.filename=" + first,
              "driver=raw,size="
                  + Files.size(first)
                  + ",file.driver=nbd,file.host=127.0.0.1,file.port="
                  + vm.nbdPort()
                  + ",file.export="
                  + PairSeeds.VOLUME);
      assertThat(cmp.exitCode())
          .as("data written before the upgrade, read from %s after it: %s", vm.name(), cmp.output())
          .isZero();
    }
    try (NbdTestClient c =
        NbdTestClient.connect(
            new InetSocketAddress("127.0.0.1", primary.nbdPort()), PairSeeds.VOLUME)) {
      byte[] fresh = new byte[BLOCK];
      random.nextBytes(fresh);
      c.write(0, fresh).get(60, TimeUnit.SECONDS);
      c.flush().get(60, TimeUnit.SECONDS);
      JsonNode p = awaitInSync();
      assertThat(p.path("resumedFromSeq").asLong(-1))
          .as("the upgraded primary resumed from the standby's durable point")
          .isPositive();
      assertThat(p.path("resync").isMissingNode() || p.path("resync").isNull())
          .as("no region copy after the upgrade: %s", p)
          .isTrue();
      try (NbdTestClient s =
          NbdTestClient.connect(
              new InetSocketAddress("127.0.0.1", standby.nbdPort()), PairSeeds.VOLUME)) {
        byte[] replica = s.read(0, BLOCK).get(60, TimeUnit.SECONDS);
        assertThat(HexFormat.of().formatHex(replica))
            .as("a write after the upgrade, read from the standby (pairing kept)")
            .isEqualTo(HexFormat.of().formatHex(fresh));
      }
    }
  }

  private static byte[] block(long seed, int index) {
    byte[] b = new byte[BLOCK];
    new Random(seed ^ (index * 0x9E3779B97F4A7C15L)).nextBytes(b);
    return b;
  }

  private static void verifyBlocks(NbdTestClient c, long seed, int count, String where)
      throws Exception {
    for (int i = 0; i < count; i++) {
      long offset = CUT_BASE + (long) i * BLOCK;
      byte[] got = c.read(offset, BLOCK).get(60, TimeUnit.SECONDS);
      byte[] want = block(seed, i);
      int at = Arrays.mismatch(got, want);
      assertThat(at)
          .as("%s: flushed write %d differs at offset 0x%x", where, i, offset + Math.max(at, 0))
          .isEqualTo(-1);
    }
  }

  /**
   * Waits until the standby has applied everything the primary journaled; returns the primary's
   * vol0.
   */
  private JsonNode awaitInSync() throws Exception {
    AtomicReference<JsonNode> last = new AtomicReference<>();
    awaitCondition(
        () -> {
          JsonNode p =
              vol0(primary.awaitAdmin("/status", Duration.ofSeconds(30), "primary status"));
          JsonNode s =
              vol0(standby.awaitAdmin("/status", Duration.ofSeconds(30), "standby status"));
          last.set(p);
          long journaled = p.path("lastJournaledSeq").asLong();
          return p.path("lastAckedByPeerSeq").asLong() == journaled
              && s.path("lastAppliedSeq").asLong() >= journaled;
        },
        SYNC,
        "the standby appliance applying everything the primary journaled");
    return last.get();
  }

  private static JsonNode vol0(String statusJson) throws IOException {
    for (JsonNode v : Json.MAPPER.readTree(statusJson).path("volumes")) {
      if (v.path("name").asText().equals(PairSeeds.VOLUME)) {
        return v;
      }
    }
    throw new AssertionError("no volume " + PairSeeds.VOLUME + " in status " + statusJson);
  }

  private static void awaitStatus(ApplianceVm vm, Json.Check check, Duration timeout, String what)
      throws Exception {
    awaitCondition(
        () ->
            check.test(
                Json.MAPPER.readTree(vm.awaitAdmin("/status", Duration.ofSeconds(30), what))),
        timeout,
        vm.name() + ": " + what);
  }

  private static String metric(ApplianceVm vm, String name) throws Exception {
    String v = metricOrEmpty(vm, name);
    assertThat(v).as("%s metric %s", vm.name(), name).isNotEmpty();
    return v;
  }

  private static String metricOrEmpty(ApplianceVm vm, String name) throws Exception {
    try {
      var r = vm.getAdmin("/metrics");
      return r.body()
          .lines()
          .filter(l -> l.startsWith(name + " ") || l.startsWith(name + "{"))
          .findFirst()
          .orElse("");
    } catch (IOException e) {
      return "";
    }
  }

  private static void awaitCondition(Json.Condition condition, Duration timeout, String what)
      throws Exception {
    long deadline = io.kagami.clock.SystemTime.NANO.nanoTime() + timeout.toNanos();
    while (!condition.holds()) {
      if (io.kagami.clock.SystemTime.NANO.nanoTime() - deadline > 0) {
        throw new AssertionError(what + ": not within " + timeout.toSeconds() + " s");
      }
      // The other side is a VM: no event crosses to this JVM, so poll.
      io.kagami.clock.SystemTime.pause(Duration.ofMillis(500));
    }
  }

  private static String nbdUri(ApplianceVm vm) {
    return "nbd://127.0.0.1:" + vm.nbdPort() + "/" + PairSeeds.VOLUME;
  }

  private static int[] freeUdpPorts(int n) throws IOException {
    int[] ports = new int[n];
    List<DatagramSocket> held = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        DatagramSocket s = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
        held.add(s);
        ports[i] = s.getLocalPort();
      }
    } finally {
      held.forEach(DatagramSocket::close);
    }
    return ports;
  }
}
