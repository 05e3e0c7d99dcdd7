package io.kagami.site.it;

import com.fasterxml.jackson.databind.JsonNode;
import eu.rekawek.toxiproxy.Proxy;
import io.kagami.clock.SystemTime;
import io.kagami.site.SiteLink;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.toxi.Toxiproxies;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A witness ({@code kagami witness}) and two sites with automatic failover, all real processes on
 * loopback, with every path between them through its own proxy so a test can cut any of them:
 *
 * <pre>
 *   tokyo ──wan──────────────► hiroshima (WAN listen)
 *   tokyo ──tokyoToHiroshima──► hiroshima admin (POST /heartbeat)
 *   tokyo ◄─hiroshimaToTokyo── hiroshima
 *   tokyo ──tokyoWitness──► witness ◄──hiroshimaWitness── hiroshima
 * </pre>
 *
 * Short timings (heartbeat 300 ms, selfFenceAfter 1.5 s, peerLostAfter 3 s, lease 2.5 s, margin 0.5
 * s) keep the tests quick; the rule between them is the one the defaults follow.
 */
final class WitnessedPair implements AutoCloseable {
  static final Duration HEARTBEAT = Duration.ofMillis(300);
  static final Duration SELF_FENCE_AFTER = Duration.ofMillis(1500);
  static final Duration PEER_LOST_AFTER = Duration.ofSeconds(3);
  static final Duration LEASE = Duration.ofMillis(2500);
  static final Duration MARGIN = Duration.ofMillis(500);

  final Path dir;
  final int primaryNbd;
  final int standbyNbd;
  final int primaryAdmin;
  final int standbyAdmin;
  final int witnessPort;
  final Proxy wan;
  final Proxy tokyoToHiroshima;
  final Proxy hiroshimaToTokyo;

  /** The built-in witness's proxies (null with an etcd witness). */
  final Proxy tokyoWitness;

  final Proxy hiroshimaWitness;

  /** Which witness holds the lease. */
  enum Kind {
    /** {@code kagami witness}, recording its leases in the test directory. */
    BUILT_IN,
    /** A three-member etcd cluster; each site reaches each member through a proxy of its own. */
    ETCD
  }

  final Kind kind;

  /** The etcd cluster (null with the built-in witness). */
  final EtcdCluster etcd;

  /** Each site's proxy to each etcd member (empty with the built-in witness). */
  final List<Proxy> tokyoEtcd = new ArrayList<>();

  final List<Proxy> hiroshimaEtcd = new ArrayList<>();

  final SiteProcess primary;
  final SiteProcess standby;
  private Process witness;
  private final Path witnessLog;

  /** {@code extraFailover}: YAML lines added to both sites' failover section (indented by two). */
  WitnessedPair(Path dir, Toxiproxies toxi, long volumeBytes, String extraFailover)
      throws IOException {
    this(dir, toxi, volumeBytes, extraFailover, Kind.BUILT_IN);
  }

  WitnessedPair(Path dir, Toxiproxies toxi, long volumeBytes, String extraFailover, Kind kind)
      throws IOException {
    this.dir = dir;
    this.kind = kind;
    int[] ports = FreePorts.loopbackPorts(7);
    primaryNbd = ports[0];
    standbyNbd = ports[1];
    primaryAdmin = ports[2];
    standbyAdmin = ports[3];
    int wanPort = ports[4];
    witnessPort = ports[5];
    int tokyoWan = ports[6]; // where tokyo listens once it is the standby (switchover)
    wan = toxi.proxy("wan", "127.0.0.1:" + wanPort);
    tokyoToHiroshima = toxi.proxy("tokyo-to-hiroshima-admin", "127.0.0.1:" + standbyAdmin);
    hiroshimaToTokyo = toxi.proxy("hiroshima-to-tokyo-admin", "127.0.0.1:" + primaryAdmin);
    String tokyoWitnessYaml;
    String hiroshimaWitnessYaml;
    if (kind == Kind.ETCD) {
      etcd = new EtcdCluster(dir.resolve("etcd"), 3);
      tokyoWitness = null;
      hiroshimaWitness = null;
      for (int i = 0; i < etcd.size(); i++) {
        tokyoEtcd.add(toxi.proxy("tokyo-etcd-" + i, "127.0.0.1:" + etcd.clientPort(i)));
        hiroshimaEtcd.add(toxi.proxy("hiroshima-etcd-" + i, "127.0.0.1:" + etcd.clientPort(i)));
      }
      tokyoWitnessYaml = etcdYaml(toxi, tokyoEtcd);
      hiroshimaWitnessYaml = etcdYaml(toxi, hiroshimaEtcd);
    } else {
      etcd = null;
      tokyoWitness = toxi.proxy("tokyo-witness", "127.0.0.1:" + witnessPort);
      hiroshimaWitness = toxi.proxy("hiroshima-witness", "127.0.0.1:" + witnessPort);
      tokyoWitnessYaml = builtInYaml(toxi, tokyoWitness);
      hiroshimaWitnessYaml = builtInYaml(toxi, hiroshimaWitness);
    }
    // The witness takes lease requests only with its token, which both sites carry (as deployed).
    io.kagami.site.auth.BearerToken.loadOrCreate(dir.resolve("witness.token"));
    Path pc = SiteLink.ensureCredentials(dir.resolve("tokyo/tls"), "tokyo");
    Path sc = SiteLink.ensureCredentials(dir.resolve("hiroshima/tls"), "hiroshima");
    String failover =
        """
        failover:
          automatic: true
        %s
          peerAdmin: "127.0.0.1:%d"
          heartbeatInterval: %dms
          peerLostAfter: %dms
          selfFenceAfter: %dms
          lease: %dms
        %s""";
    String extra = extraFailover.isEmpty() ? "" : extraFailover.indent(2);
    Files.writeString(
        dir.resolve("tokyo.yaml"),
        """
        site: {id: tokyo, role: primary}
        dataDir: tokyo
        nbd: {listen: "127.0.0.1:%d"}
        admin: {listen: "127.0.0.1:%d"}
        wan: {peer: "127.0.0.1:%d", listen: "127.0.0.1:%d", peerSiteId: hiroshima, peerCertificate: %s}
        volumes: [{name: vol0, size: %d}]
        """
                .formatted(
                    primaryNbd,
                    primaryAdmin,
                    toxi.listenAddress(wan).getPort(),
                    tokyoWan,
                    dir.relativize(sc),
                    volumeBytes)
            + failover.formatted(
                tokyoWitnessYaml,
                toxi.listenAddress(tokyoToHiroshima).getPort(),
                HEARTBEAT.toMillis(),
                PEER_LOST_AFTER.toMillis(),
                SELF_FENCE_AFTER.toMillis(),
                LEASE.toMillis(),
                extra));
    Files.writeString(
        dir.resolve("hiroshima.yaml"),
        """
        site: {id: hiroshima, role: standby}
        dataDir: hiroshima
        nbd: {listen: "127.0.0.1:%d"}
        admin: {listen: "127.0.0.1:%d"}
        wan: {listen: "127.0.0.1:%d", peer: "127.0.0.1:%d", peerSiteId: tokyo, peerCertificate: %s}
        volumes: [{name: vol0, size: %d}]
        """
                .formatted(
                    standbyNbd, standbyAdmin, wanPort, tokyoWan, dir.relativize(pc), volumeBytes)
            + failover.formatted(
                hiroshimaWitnessYaml,
                toxi.listenAddress(hiroshimaToTokyo).getPort(),
                HEARTBEAT.toMillis(),
                PEER_LOST_AFTER.toMillis(),
                SELF_FENCE_AFTER.toMillis(),
                LEASE.toMillis(),
                extra));
    primary = new SiteProcess(dir.resolve("tokyo.yaml"), "127.0.0.1:" + primaryAdmin);
    standby = new SiteProcess(dir.resolve("hiroshima.yaml"), "127.0.0.1:" + standbyAdmin);
    witnessLog = dir.resolve("witness.log");
  }

  private static String builtInYaml(Toxiproxies toxi, Proxy proxy) {
    return ("witness: \"127.0.0.1:"
            + toxi.listenAddress(proxy).getPort()
            + "\"\nwitnessTokenFile: witness.token")
        .indent(2)
        .stripTrailing();
  }

  private static String etcdYaml(Toxiproxies toxi, List<Proxy> proxies) {
    List<String> urls = new ArrayList<>();
    for (Proxy p : proxies) {
      urls.add("\"http://127.0.0.1:" + toxi.listenAddress(p).getPort() + "\"");
    }
    return ("witness: {etcd: [" + String.join(", ", urls) + "], prefix: /kagami/it")
        .concat("}")
        .indent(2)
        .stripTrailing();
  }

  /**
   * Starts the witness and both sites, and waits until the link is up, the primary holds the lease
   * at the witness and acknowledges writes.
   */
  WitnessedPair start() throws IOException, InterruptedException {
    if (kind == Kind.ETCD) {
      etcd.start(Duration.ofSeconds(60));
    } else {
      startWitness();
    }
    standby.start();
    primary.start();
    primary.awaitStatus(
        s ->
            s.path("link").path("connected").asBoolean()
                && !s.path("failover").path("fenced").asBoolean(true)
                && s.path("failover").path("witness").has("lastGrantSecondsAgo"),
        Duration.ofSeconds(60),
        "the link up, the primary unfenced and holding the witness lease");
    standby.awaitStatus(
        s -> s.path("failover").path("term").asLong() >= 1,
        Duration.ofSeconds(30),
        "the standby to learn the primary's term");
    return this;
  }

  /**
   * Starts {@code kagami witness} (its leases recorded in the test directory, next to its token)
   * and waits until it answers.
   */
  void startWitness() throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(ProcessHandle.current().info().command().orElse("java"));
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("io.kagami.site.cli.Main");
    cmd.addAll(
        List.of(
            "witness",
            "--listen",
            "127.0.0.1:" + witnessPort,
            "--token-file",
            dir.resolve("witness.token").toString(),
            "--data-dir",
            dir.resolve("witness").toString(),
            "--lease",
            LEASE.toMillis() + "ms",
            "--margin",
            MARGIN.toMillis() + "ms"));
    witness =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(witnessLog.toFile()))
            .start();
    awaitWitness(Duration.ofSeconds(60));
  }

  /** kill -9 of the built-in witness, waiting (bounded) until it is gone. */
  void killWitness() {
    witness.destroyForcibly();
    witness.onExit().orTimeout(30, TimeUnit.SECONDS).join();
  }

  /** The built-in witness's {@code GET /v1/status}. */
  JsonNode witnessStatus() throws IOException, InterruptedException {
    try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build()) {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + witnessPort + "/v1/status"))
                  .timeout(Duration.ofSeconds(2))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      return new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.body());
    }
  }

  /**
   * Cuts a site ("tokyo" or "hiroshima") off its witness: the built-in one or every etcd member.
   */
  void cutWitness(String site) throws IOException {
    for (Proxy p : witnessProxies(site)) {
      p.disable();
    }
  }

  void healWitness(String site) throws IOException {
    for (Proxy p : witnessProxies(site)) {
      p.enable();
    }
  }

  private List<Proxy> witnessProxies(String site) {
    boolean tokyo = site.equals("tokyo");
    if (kind == Kind.ETCD) {
      return tokyo ? tokyoEtcd : hiroshimaEtcd;
    }
    return List.of(tokyo ? tokyoWitness : hiroshimaWitness);
  }

  private void awaitWitness(Duration timeout) throws IOException, InterruptedException {
    long deadline = SystemTime.NANO.nanoTime() + timeout.toNanos();
    try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build()) {
      while (SystemTime.NANO.nanoTime() < deadline) {
        if (!witness.isAlive()) {
          throw new AssertionError(
              "witness exited with " + witness.exitValue() + ": " + Files.readString(witnessLog));
        }
        try {
          HttpResponse<String> r =
              http.send(
                  HttpRequest.newBuilder(
                          URI.create("http://127.0.0.1:" + witnessPort + "/v1/status"))
                      .timeout(Duration.ofSeconds(1))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
          if (r.statusCode() == 200) {
            return;
          }
        } catch (IOException notYet) {
          // still starting
        }
        witness.waitFor(100, TimeUnit.MILLISECONDS);
      }
    }
    throw new AssertionError(
        "the witness did not answer within " + timeout + ": " + Files.readString(witnessLog));
  }

  /** Cuts every path between the primary and the standby (WAN and both heartbeat directions). */
  void cutBetweenSites() throws IOException {
    wan.disable();
    tokyoToHiroshima.disable();
    hiroshimaToTokyo.disable();
  }

  void healBetweenSites() throws IOException {
    wan.enable();
    tokyoToHiroshima.enable();
    hiroshimaToTokyo.enable();
  }

  static JsonNode failover(JsonNode status) {
    return status.path("failover");
  }

  /** Whether a site's status says it accepts writes: primary and not fenced. */
  static boolean acceptsWrites(JsonNode status) {
    return status.path("acceptingWrites").asBoolean()
        && status.path("role").asText().equals("primary")
        && !failover(status).path("fenced").asBoolean(true);
  }

  String logs() throws IOException {
    return "--- tokyo ---\n"
        + primary.log()
        + "\n--- hiroshima ---\n"
        + standby.log()
        + "\n--- witness ---\n"
        + (Files.exists(witnessLog) ? Files.readString(witnessLog) : "")
        + (etcd == null ? "" : etcd.logs());
  }

  @Override
  public void close() {
    primary.close();
    standby.close();
    if (witness != null && witness.isAlive()) {
      witness.destroyForcibly();
      witness.onExit().orTimeout(30, TimeUnit.SECONDS).join();
    }
    if (etcd != null) {
      etcd.close();
    }
  }
}
