package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.clock.SystemTime;
import io.kagami.site.SiteLink;
import io.kagami.site.it.guest.GuestDisks;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The sites of the Linux-guest recovery tests ({@link RecoverGuestsIT}, {@link
 * RecoverGuestsPointInTimeIT}): one primary site per protected "physical" server, each holding that
 * server's bootable disk on a Kagami volume ({@code <guest>-disk}, {@link #VOLUME} bytes), all
 * replicating into one DR site {@code dr} (N:1) whose {@code recovery.yaml} the test gives. Real
 * site processes on loopback with free ports; {@link #close()} stops them all (and leaves nothing
 * running on a failed test).
 *
 * <p>The volume is the guest disk plus 16 MiB the guests never touch ({@link #SPARE_OFFSET}): tests
 * write there from the host while the guests' own regions stay as the guests left them.
 */
final class GuestSites implements AutoCloseable {
  /** Generous for anything but a guest boot. */
  static final Duration T = Duration.ofMinutes(3);

  /** The guest disk plus room: volume sizes are multiples of 4 KiB. */
  static final long VOLUME = GuestDisks.DISK_BYTES + (16L << 20);

  /** Where the region no guest uses starts: the end of the guest disk. */
  static final long SPARE_OFFSET = GuestDisks.DISK_BYTES;

  private static final Path ROOT = Path.of("").toAbsolutePath().getParent();

  /**
   * Two protected servers, in boot order: {@code db} on primary {@code tokyo}, then {@code app} on
   * {@code osaka}.
   */
  static Map<String, String> dbAndApp() {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("tokyo", "db");
    m.put("osaka", "app");
    return m;
  }

  /**
   * A recovery.yaml for {@code guests} (primary site id → guest), in that order: each server boots
   * from its replica ({@code <site>.<guest>-disk}) as 1 vCPU, 256 MiB, q35, virtio, healthy once
   * its console prints {@code KAGAMI-GUEST READY <guest>}, each after the one before it ({@code
   * dependsOn}). {@code networks}: the file's {@code networks:} block or ""; {@code nics}: each
   * server's {@code nics:} value or "".
   */
  static String recoveryYaml(Map<String, String> guests, String networks, String nics) {
    StringBuilder y = new StringBuilder(networks);
    y.append(
        """
        defaults:
          vcpus: 1
          memory: 256MiB
          machine: q35
          diskBus: virtio
          timeouts: {healthy: 8m, shutdown: 30s}
        servers:
        """);
    String before = null;
    for (Map.Entry<String, String> e : guests.entrySet()) {
      String guest = e.getValue();
      y.append("  - name: ").append(guest).append('\n');
      y.append("    volumes: [").append(e.getKey()).append('.').append(guest).append("-disk]\n");
      y.append("    priority: 1\n");
      if (before != null) {
        y.append("    dependsOn: [").append(before).append("]\n");
      }
      if (!nics.isEmpty()) {
        y.append("    nics: ").append(nics).append('\n');
      }
      y.append("    healthCheck: {console: \"KAGAMI-GUEST READY ").append(guest).append("\"}\n");
      before = guest;
    }
    return y.toString();
  }

  /** A primary site, its guest (host name) and that guest's volume. */
  record Primary(String id, String guest, SiteProcess site, int nbd) {
    /** The volume's name on its primary. */
    String volume() {
      return guest + "-disk";
    }

    /** The same volume on the DR site (namespaced by the peer). */
    String drVolume() {
      return id + "." + volume();
    }

    String uri() {
      return "nbd://127.0.0.1:" + nbd + "/" + volume();
    }
  }

  final Path dir;
  final Map<String, Primary> primaries;
  final SiteProcess dr;
  final int drNbd;
  final String admin;

  private GuestSites(
      Path dir, Map<String, Primary> primaries, SiteProcess dr, int drNbd, String admin) {
    this.dir = dir;
    this.primaries = primaries;
    this.dr = dr;
    this.drNbd = drNbd;
    this.admin = admin;
  }

  /**
   * Writes the configurations: a primary per entry of {@code guests} (primary site id → guest
   * name), the DR site with a peer per primary (history kept an hour, for points in time), and
   * {@code recoveryYaml} as the DR site's recovery.yaml. Starts nothing.
   */
  static GuestSites create(Path dir, Map<String, String> guests, String recoveryYaml)
      throws IOException {
    int[] ports = FreePorts.loopbackPorts(3 + 2 * guests.size());
    int drNbd = ports[0];
    int drAdmin = ports[1];
    int drWan = ports[2];
    Path drCert = SiteLink.ensureCredentials(dir.resolve("dr/tls"), "dr");
    StringBuilder peers = new StringBuilder();
    Map<String, Primary> primaries = new LinkedHashMap<>();
    int i = 0;
    for (Map.Entry<String, String> e : guests.entrySet()) {
      String id = e.getKey();
      String guest = e.getValue();
      int nbd = ports[3 + 2 * i];
      int admin = ports[4 + 2 * i];
      i++;
      Path cert = SiteLink.ensureCredentials(dir.resolve(id + "/tls"), id);
      peers.append(
          "  - {siteId: %s, certificate: %s, historyQuota: 512MiB, volumes: [{name: %s-disk, size: %d, retention: 1h}]}\n"
              .formatted(id, dir.relativize(cert), guest, VOLUME));
      Files.writeString(
          dir.resolve(id + ".yaml"),
          """
          site: {id: %s, role: primary}
          dataDir: %s
          nbd: {listen: "127.0.0.1:%d"}
          admin: {listen: "127.0.0.1:%d"}
          wan: {peer: "127.0.0.1:%d", peerSiteId: dr, peerCertificate: %s}
          volumes: [{name: %s-disk, size: %d, historyCapacity: 512MiB}]
          """
              .formatted(id, id, nbd, admin, drWan, dir.relativize(drCert), guest, VOLUME));
      SiteProcess p = new SiteProcess(dir.resolve(id + ".yaml"), "127.0.0.1:" + admin);
      primaries.put(id, new Primary(id, guest, p, nbd));
    }
    Files.writeString(
        dir.resolve("dr.yaml"),
        """
        site: {id: dr, role: standby}
        dataDir: dr
        nbd: {listen: "127.0.0.1:%d"}
        admin: {listen: "127.0.0.1:%d"}
        wan: {listen: "127.0.0.1:%d"}
        peers:
        %s"""
            .formatted(drNbd, drAdmin, drWan, peers.toString().stripTrailing()));
    Files.writeString(dir.resolve("recovery.yaml"), recoveryYaml);
    // This machine's /dev/kvm opens but cannot run these guests ("KVM internal error"): TCG.
    SiteProcess dr =
        new SiteProcess(dir.resolve("dr.yaml"), "127.0.0.1:" + drAdmin)
            .jvmOptions(List.of("-Dkagami.qemu.accel=tcg"));
    return new GuestSites(dir, primaries, dr, drNbd, "127.0.0.1:" + drAdmin);
  }

  /** Starts the DR site, then the primaries; returns once every primary is connected. */
  GuestSites start() throws IOException {
    dr.start();
    for (Primary p : primaries.values()) {
      p.site().start();
    }
    dr.awaitStatus(
        s -> s.path("link").path("connected").asBoolean(), Duration.ofSeconds(60), "primaries");
    return this;
  }

  Primary primary(String id) {
    return primaries.get(id);
  }

  Collection<Primary> all() {
    return primaries.values();
  }

  /** The DR site's data directory. */
  Path drData() {
    return dir.resolve("dr");
  }

  /** The CLI an operator runs, against the DR site with {@code --admin}. */
  static ExternalTool kagami() {
    return ExternalTool.of(ROOT.resolve("kagami"))
        .withEnv("KAGAMI_SKIP_BUILD", "1")
        .withEnv("KAGAMI_ADMIN", "");
  }

  /** Waits until dr applied everything {@code p} journaled so far and {@code p} has no lag. */
  long awaitInSync(Primary p) throws IOException, InterruptedException {
    long target = volume(p.site().status(), p.volume()).path("lastJournaledSeq").asLong();
    p.site()
        .awaitStatus(
            s -> {
              JsonNode v = volume(s, p.volume());
              return v.path("lastAckedByPeerSeq").asLong() >= target
                  && v.path("lagBytes").asLong() == 0;
            },
            T,
            p.id() + " acknowledged through seq " + target);
    dr.awaitStatus(
        s -> volume(s, p.drVolume()).path("lastAppliedSeq").asLong() >= target,
        T,
        "dr applied " + p.drVolume() + " through seq " + target);
    return target;
  }

  /** The SHA-256 of {@code length} bytes at {@code offset} of an export, read over NBD. */
  static String sha256(int port, String export, long offset, long length)
      throws IOException, InterruptedException {
    MessageDigest md;
    try {
      md = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
    int chunk = 1 << 20;
    try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", port, export)) {
      Deque<CompletableFuture<byte[]>> inFlight = new ArrayDeque<>();
      long next = offset;
      long end = offset + length;
      while (next < end || !inFlight.isEmpty()) {
        while (next < end && inFlight.size() < 8) {
          int n = (int) Math.min(chunk, end - next);
          inFlight.add(c.read(next, n));
          next += n;
        }
        md.update(inFlight.removeFirst().get(1, TimeUnit.MINUTES));
      }
    } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
      throw new IOException("reading " + export + " on port " + port + ": " + e, e);
    }
    return HexFormat.of().formatHex(md.digest());
  }

  /** The exports the DR site's NBD server lists ({@code nbdinfo --list}). */
  List<String> drExports() throws IOException, InterruptedException {
    ExternalTool.Result r =
        ExternalTool.require("nbdinfo")
            .runOk(Duration.ofSeconds(30), "--list", "--json", "nbd://127.0.0.1:" + drNbd);
    List<String> out = new ArrayList<>();
    SiteProcess.JSON
        .readTree(r.stdout())
        .path("exports")
        .forEach(e -> out.add(e.path("export-name").asText()));
    return out;
  }

  /**
   * The TCP ports the DR site's process and every process it started listen on ({@code ss}), so a
   * test can see that a drill left none open.
   */
  TreeSet<Integer> drListeningPorts() throws IOException, InterruptedException {
    List<Long> pids = new ArrayList<>();
    ProcessHandle.of(dr.pid())
        .ifPresent(
            h -> {
              pids.add(h.pid());
              h.descendants().forEach(d -> pids.add(d.pid()));
            });
    ExternalTool.Result r = ExternalTool.require("ss").runOk(Duration.ofSeconds(30), "-Hltnp");
    TreeSet<Integer> ports = new TreeSet<>();
    for (String line : r.stdout().lines().toList()) {
      if (pids.stream().anyMatch(pid -> line.contains("pid=" + pid + ","))) {
        String[] cols = line.trim().split("\\s+");
        String local = cols[3];
        ports.add(Integer.parseInt(local.substring(local.lastIndexOf(':') + 1)));
      }
    }
    return ports;
  }

  /** The drill overlay files in the DR site's data directory. */
  List<String> drillOverlays() throws IOException {
    Path drills = drData().resolve("drills");
    if (!Files.isDirectory(drills)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(drills)) {
      return s.map(p -> p.getFileName().toString()).toList();
    }
  }

  /** Waits (bounded, polling) until the report of run {@code id} is written; returns it. */
  JsonNode awaitReport(String id, Duration timeout) throws IOException {
    Path f = drData().resolve("recovery/reports/" + id + ".json");
    long deadline = SystemTime.NANO.nanoTime() + timeout.toNanos();
    while (!Files.exists(f)) {
      if (SystemTime.NANO.nanoTime() - deadline > 0) {
        throw new AssertionError("no report " + f + " within " + timeout + "; log:\n" + dr.log());
      }
      SystemTime.pause(Duration.ofMillis(200));
    }
    return SiteProcess.JSON.readTree(f.toFile());
  }

  /**
   * The report a {@code kagami recover --all --json} run of {@link #dbAndApp()} printed, checked:
   * the run succeeded, is of {@code kind} ({@code recovery} or {@code drill}), started db first and
   * app only after db passed its health check.
   */
  static JsonNode reportOfDbThenApp(ExternalTool.Result run, String kind) throws IOException {
    assertThat(run.exitCode()).as(run.describe()).isZero();
    JsonNode report = SiteProcess.JSON.readTree(run.stdout());
    assertThat(report.path("result").asText()).as(report.toString()).isEqualTo("ok");
    assertThat(report.path("kind").asText()).isEqualTo(kind);
    assertThat(report.path("bootOrder").toString()).isEqualTo("[\"db\",\"app\"]");
    assertThat(Instant.parse(server(report, "app").path("bootStartedAt").asText()))
        .as("app starts only after db passed its health check")
        .isAfterOrEqualTo(Instant.parse(server(report, "db").path("healthyAt").asText()));
    return report;
  }

  static JsonNode volume(JsonNode status, String name) {
    for (JsonNode v : status.path("volumes")) {
      if (v.path("name").asText().equals(name)) {
        return v;
      }
    }
    throw new AssertionError("no volume " + name + " in " + status);
  }

  /**
   * {@code kagami recover stop} on dr after a recovery that runs {@code vms} QEMU processes (as
   * {@code recover status} lists them): it succeeds, and none of them is left.
   */
  void recoverStopLeavesNoVm(ExternalTool k, int vms) throws IOException, InterruptedException {
    List<Long> pids =
        runningPids(
            SiteProcess.JSON.readTree(
                k.run(T, "recover", "status", "--json", "--admin", admin).stdout()));
    assertThat(pids).as("QEMU processes of the recovery").hasSize(vms);
    ExternalTool.Result stop = k.run(T, "recover", "stop", "--admin", admin);
    assertThat(stop.exitCode()).as(stop.describe()).isZero();
    for (long pid : pids) {
      assertThat(alive(pid)).as("QEMU pid %d after recover stop", pid).isFalse();
    }
  }

  /**
   * A report's server entry as one line: its RTO and the RTO's parts, then its RPO, e.g. {@code RTO
   * 10644 ms = promote 38 + export 2 + vm start 11 + boot 109 + health 10467 ms; RPO 23037 ms}.
   */
  static String rtoLine(JsonNode server) {
    JsonNode parts = server.path("rto");
    return "RTO %d ms = promote %d + export %d + vm start %d + boot %d + health %d ms; RPO %d ms"
        .formatted(
            server.path("rtoMillis").asLong(),
            parts.path("prepareMillis").asLong(),
            parts.path("exportMillis").asLong(),
            parts.path("vmStartMillis").asLong(),
            parts.path("bootMillis").asLong(),
            parts.path("healthMillis").asLong(),
            server.path("rpoMillis").asLong());
  }

  static JsonNode server(JsonNode report, String name) {
    for (JsonNode s : report.path("servers")) {
      if (s.path("name").asText().equals(name)) {
        return s;
      }
    }
    throw new AssertionError("no server " + name + " in " + report);
  }

  /** The QEMU pids of the run under way ({@code kagami recover status}). */
  static List<Long> runningPids(JsonNode recoverStatus) {
    List<Long> out = new ArrayList<>();
    for (JsonNode s : recoverStatus.path("running").path("servers")) {
      if (s.path("pid").asLong() > 0) {
        out.add(s.path("pid").asLong());
      }
    }
    return out;
  }

  static boolean alive(long pid) {
    return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
  }

  @Override
  public void close() {
    for (Primary p : primaries.values()) {
      p.site().close();
    }
    dr.close();
  }
}
