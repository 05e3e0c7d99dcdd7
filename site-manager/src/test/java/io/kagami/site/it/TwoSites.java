package io.kagami.site.it;

import com.fasterxml.jackson.databind.JsonNode;
import eu.rekawek.toxiproxy.Proxy;
import io.kagami.site.SiteLink;
import io.kagami.testkit.data.DataFiles;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import io.kagami.testkit.toxi.Toxiproxies;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A primary ({@code tokyo}) and a standby ({@code hiroshima}) as two real processes on loopback
 * with free ports, paired by their generated certificates, as an operator sets up two machines.
 */
final class TwoSites implements AutoCloseable {
  final Path dir;
  final int primaryNbd;
  final int standbyNbd;
  final int primaryAdmin;
  final int standbyAdmin;
  final int wan;

  /** Where tokyo listens once it is the standby (after a switchover or failback). */
  final int primaryWan;

  final SiteProcess primary;
  final SiteProcess standby;

  TwoSites(Path dir, long volumeBytes) throws IOException {
    this(dir, volumeBytes, "vol0");
  }

  TwoSites(Path dir, long volumeBytes, String... volumeNames) throws IOException {
    this(dir, volumeBytes, "", List.of(volumeNames), port -> port);
  }

  /** {@code volumeOptions}: extra YAML keys for every volume, e.g. {@code "mode: sync"}. */
  static TwoSites withVolumeOptions(Path dir, long volumeBytes, String volumeOptions)
      throws IOException {
    return new TwoSites(dir, volumeBytes, volumeOptions, List.of("vol0"), port -> port);
  }

  /** Volumes {@code names}, each of {@code volumeBytes} with {@code volumeOptions}. */
  static TwoSites withVolumes(Path dir, long volumeBytes, String volumeOptions, String... names)
      throws IOException {
    return new TwoSites(dir, volumeBytes, volumeOptions, List.of(names), port -> port);
  }

  /**
   * Like {@link #withVolumeOptions}, with the primary dialling the standby's WAN port through
   * {@code via} (given the standby's WAN port, returns the port the primary connects to: a proxy).
   */
  static TwoSites withVolumeOptions(
      Path dir, long volumeBytes, String volumeOptions, java.util.function.IntUnaryOperator via)
      throws IOException {
    return new TwoSites(dir, volumeBytes, volumeOptions, List.of("vol0"), via);
  }

  /**
   * Like {@link #withVolumeOptions}, with the WAN link through a proxy of {@code toxi} (named
   * "wan"), available as {@link #wanProxy} for toxics.
   */
  static TwoSites throughProxy(Path dir, long volumeBytes, String volumeOptions, Toxiproxies toxi)
      throws IOException {
    return withVolumes(dir, volumesYaml(volumeBytes, volumeOptions, List.of("vol0")), toxi);
  }

  /** The proxy the WAN link runs through ({@link #throughProxy}), else null. */
  Proxy wanProxy;

  /** Copies both volumes out with nbdcopy and asserts they are byte-identical. */
  void assertReplicaIdentical() throws IOException, InterruptedException {
    Path p = dir.resolve("primary.img");
    Path s = dir.resolve("standby.img");
    Duration t = Duration.ofMinutes(3);
    ExternalTool.require("nbdcopy").run(t, primaryUri(), p.toString()).requireSuccess();
    ExternalTool.require("nbdcopy").run(t, standbyUri(), s.toString()).requireSuccess();
    DataFiles.assertSameContent("primary", p, "standby replica", s);
  }

  private TwoSites(
      Path dir,
      long volumeBytes,
      String volumeOptions,
      List<String> volumeNames,
      java.util.function.IntUnaryOperator via)
      throws IOException {
    this(dir, volumesYaml(volumeBytes, volumeOptions, volumeNames), via);
  }

  private static String volumesYaml(
      long volumeBytes, String volumeOptions, List<String> volumeNames) {
    StringBuilder vols = new StringBuilder();
    for (String v : volumeNames) {
      vols.append(vols.isEmpty() ? "" : ", ")
          .append("{name: ")
          .append(v)
          .append(", size: ")
          .append(volumeBytes);
      vols.append(volumeOptions.isEmpty() ? "" : ", " + volumeOptions).append("}");
    }
    return vols.toString();
  }

  /**
   * Sites whose {@code volumes:} list is {@code volumesYaml} (flow style, without brackets), with
   * the WAN link through a proxy of {@code toxi} (named "wan"), available as {@link #wanProxy}.
   */
  static TwoSites withVolumes(Path dir, String volumesYaml, Toxiproxies toxi) throws IOException {
    Proxy[] proxy = new Proxy[1];
    TwoSites sites =
        new TwoSites(
            dir,
            volumesYaml,
            port -> {
              try {
                proxy[0] = toxi.proxy("wan", "127.0.0.1:" + port);
                return toxi.listenAddress(proxy[0]).getPort();
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            });
    sites.wanProxy = proxy[0];
    return sites;
  }

  private TwoSites(Path dir, String vols, java.util.function.IntUnaryOperator via)
      throws IOException {
    this.dir = dir;
    int[] ports = FreePorts.loopbackPorts(6);
    primaryNbd = ports[0];
    standbyNbd = ports[1];
    primaryAdmin = ports[2];
    standbyAdmin = ports[3];
    wan = ports[4];
    primaryWan = ports[5];
    Path pc = SiteLink.ensureCredentials(dir.resolve("tokyo/tls"), "tokyo");
    Path sc = SiteLink.ensureCredentials(dir.resolve("hiroshima/tls"), "hiroshima");
    Files.writeString(
        dir.resolve("tokyo.yaml"),
        """
        site: {id: tokyo, role: primary}
        dataDir: tokyo
        nbd: {listen: "127.0.0.1:%d"}
        admin: {listen: "127.0.0.1:%d"}
        wan: {peer: "127.0.0.1:%d", listen: "127.0.0.1:%d", peerSiteId: hiroshima, peerCertificate: %s}
        volumes: [%s]
        """
            .formatted(
                primaryNbd,
                primaryAdmin,
                via.applyAsInt(wan),
                primaryWan,
                dir.relativize(sc),
                vols));
    Files.writeString(
        dir.resolve("hiroshima.yaml"),
        """
        site: {id: hiroshima, role: standby}
        dataDir: hiroshima
        nbd: {listen: "127.0.0.1:%d"}
        admin: {listen: "127.0.0.1:%d"}
        wan: {listen: "127.0.0.1:%d", peer: "127.0.0.1:%d", peerSiteId: tokyo, peerCertificate: %s}
        volumes: [%s]
        """
            .formatted(standbyNbd, standbyAdmin, wan, primaryWan, dir.relativize(pc), vols));
    primary = new SiteProcess(dir.resolve("tokyo.yaml"), "127.0.0.1:" + primaryAdmin);
    standby = new SiteProcess(dir.resolve("hiroshima.yaml"), "127.0.0.1:" + standbyAdmin);
  }

  TwoSites start() throws IOException {
    standby.start();
    primary.start();
    primary.awaitStatus(
        s -> s.path("link").path("connected").asBoolean(),
        Duration.ofSeconds(60),
        "the WAN link to connect");
    return this;
  }

  String primaryUri() {
    return "nbd://127.0.0.1:" + primaryNbd + "/vol0";
  }

  String standbyUri() {
    return "nbd://127.0.0.1:" + standbyNbd + "/vol0";
  }

  static JsonNode vol0(JsonNode status) {
    return status.path("volumes").get(0);
  }

  /**
   * Waits (bounded) until the standby has applied everything the primary journaled, every volume.
   */
  void awaitInSync(Duration timeout) throws IOException, InterruptedException {
    JsonNode p = primary.status().path("volumes");
    for (int i = 0; i < p.size(); i++) {
      int at = i;
      long target = p.get(i).path("lastJournaledSeq").asLong();
      String name = p.get(i).path("name").asText();
      primary.awaitStatus(
          s ->
              s.path("volumes").get(at).path("lastAckedByPeerSeq").asLong() >= target
                  && s.path("volumes").get(at).path("lagBytes").asLong() == 0,
          timeout,
          "primary " + name + " lag 0 at seq " + target);
      standby.awaitStatus(
          s -> s.path("volumes").get(at).path("lastAppliedSeq").asLong() >= target,
          timeout,
          "standby " + name + " applied through seq " + target);
    }
  }

  String primaryUri(String volume) {
    return "nbd://127.0.0.1:" + primaryNbd + "/" + volume;
  }

  String standbyUri(String volume) {
    return "nbd://127.0.0.1:" + standbyNbd + "/" + volume;
  }

  @Override
  public void close() {
    primary.close();
    standby.close();
  }
}
