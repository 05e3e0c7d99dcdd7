package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import eu.rekawek.toxiproxy.Proxy;
import io.kagami.clock.SystemTime;
import io.kagami.site.SiteLink;
import io.kagami.testkit.data.DataFiles;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import io.kagami.testkit.toxi.Toxiproxies;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Acceptance a) of N:1: three primary sites ({@code tokyo}, {@code osaka}, {@code nagoya}), each
 * with its own {@code vol0}, replicate into one DR site ({@code dr}, a {@code peers:} list) as four
 * real processes. Osaka's link runs through a fault proxy and is cut while all three keep writing:
 * tokyo's and nagoya's lag stays under a second, osaka's history grows and then overflows into its
 * changed-region map; after the heal osaka's resync copies only osaka's regions, tokyo's and
 * nagoya's volumes on the standby are not touched by it, and every replica ends byte-identical to
 * its own source (the three sources hold different data at the same offsets: no cross-talk).
 */
class NToOneIT {
  private static final long VOLUME = 32L << 20;
  private static final int REGION = 64 << 10;
  private static final Duration T = Duration.ofMinutes(2);
  private static final List<String> PRIMARIES = List.of("tokyo", "osaka", "nagoya");
  private static final String CUT = "osaka";

  @TempDir Path dir;

  /** One primary site: its process, NBD port and (osaka only) the proxy its link runs through. */
  private record Primary(String id, SiteProcess site, int nbd, Proxy proxy) {
    String uri() {
      return "nbd://127.0.0.1:" + nbd + "/vol0";
    }
  }

  @Test
  void threePrimariesReplicateIntoOneStandbyAndACutPeerStallsNoOther() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    Random rnd = new Random(seed);
    try (Toxiproxies toxi = Toxiproxies.start(seed)) {
      System.out.println("NToOneIT seed=" + seed + " " + toxi);
      int[] ports = FreePorts.loopbackPorts(3 + 2 * PRIMARIES.size());
      int drNbd = ports[0];
      int drAdmin = ports[1];
      int drWan = ports[2];
      Path drCert = SiteLink.ensureCredentials(dir.resolve("dr/tls"), "dr");
      StringBuilder peers = new StringBuilder();
      Map<String, Primary> primaries = new LinkedHashMap<>();
      List<SiteProcess> all = new ArrayList<>();
      for (int i = 0; i < PRIMARIES.size(); i++) {
        String id = PRIMARIES.get(i);
        int nbd = ports[3 + 2 * i];
        int admin = ports[4 + 2 * i];
        Path cert = SiteLink.ensureCredentials(dir.resolve(id + "/tls"), id);
        // Osaka's history is small, so a cut overflows it and the heal needs a resync.
        String history = id.equals(CUT) ? "historyCapacity: 4MiB" : "historyCapacity: 256MiB";
        peers.append(
            "  - {siteId: %s, certificate: %s, volumes: [{name: vol0, size: %d}]}\n"
                .formatted(id, dir.relativize(cert), VOLUME));
        Proxy proxy = id.equals(CUT) ? toxi.proxy("wan-" + id, "127.0.0.1:" + drWan) : null;
        int dial = proxy == null ? drWan : toxi.listenAddress(proxy).getPort();
        Files.writeString(
            dir.resolve(id + ".yaml"),
            """
            site: {id: %s, role: primary}
            dataDir: %s
            nbd: {listen: "127.0.0.1:%d"}
            admin: {listen: "127.0.0.1:%d"}
            wan: {peer: "127.0.0.1:%d", peerSiteId: dr, peerCertificate: %s}
            volumes: [{name: vol0, size: %d, %s, bitmapGranularity: 64KiB}]
            """
                .formatted(id, id, nbd, admin, dial, dir.relativize(drCert), VOLUME, history));
        SiteProcess p = new SiteProcess(dir.resolve(id + ".yaml"), "127.0.0.1:" + admin);
        primaries.put(id, new Primary(id, p, nbd, proxy));
        all.add(p);
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
      SiteProcess dr = new SiteProcess(dir.resolve("dr.yaml"), "127.0.0.1:" + drAdmin);
      all.add(dr);
      try {
        dr.start();
        for (Primary p : primaries.values()) {
          p.site().start();
        }
        dr.awaitStatus(
            s -> s.path("link").path("connected").asBoolean(),
            Duration.ofSeconds(60),
            "all three primaries to connect");
        JsonNode first = dr.status();
        assertThat(first.path("volumes").findValuesAsText("name"))
            .as("each peer's vol0 is held and exported under its own name")
            .containsExactly("tokyo.vol0", "osaka.vol0", "nagoya.vol0");
        assertThat(first.path("peers").findValuesAsText("siteId"))
            .containsExactlyElementsOf(PRIMARIES);

        Map<String, NbdTestClient> clients = new LinkedHashMap<>();
        for (Primary p : primaries.values()) {
          clients.put(p.id(), NbdTestClient.connect("127.0.0.1", p.nbd(), "vol0"));
        }
        try {
          // 1. All three replicate: different data at the same offsets on each.
          for (int round = 0; round < 8; round++) {
            for (NbdTestClient c : clients.values()) {
              writeRegions(c, rnd, 4);
            }
          }
          for (Primary p : primaries.values()) {
            awaitInSync(p, dr);
          }

          // 2. Osaka's link is cut; all three keep writing.
          Primary cut = primaries.get(CUT);
          cut.proxy().disable();
          cut.site()
              .awaitStatus(
                  s -> !s.path("link").path("connected").asBoolean(), T, "osaka's link to go down");
          dr.awaitStatus(
              s -> !peer(s, CUT).path("connected").asBoolean(),
              T,
              "the standby to see osaka disconnected");
          Map<String, Long> standbySeqBeforeHeal = new LinkedHashMap<>();
          Set<Long> dirty = new HashSet<>(); // osaka's regions written while cut
          double[] maxLag = new double[PRIMARIES.size()];
          long historyBefore = -1;
          long historyGrew = -1;
          int samples = 0;
          boolean healthyStayedConnected = true;
          String statusDuringCut = "";
          for (int round = 0; round < 40; round++) {
            // 2 writes of 256 KiB to osaka each round: 20 MiB in all, past its 4 MiB history.
            CompletableFuture<Void> osaka = writeRegionsAsync(clients.get(CUT), rnd, 2, dirty);
            for (String id : List.of("tokyo", "nagoya")) {
              writeRegions(clients.get(id), rnd, 1);
            }
            osaka.get(30, TimeUnit.SECONDS);
            for (int i = 0; i < PRIMARIES.size(); i++) {
              String id = PRIMARIES.get(i);
              if (id.equals(CUT)) {
                continue;
              }
              JsonNode v = TwoSites.vol0(primaries.get(id).site().status());
              maxLag[i] = Math.max(maxLag[i], v.path("lagSeconds").asDouble());
            }
            samples++;
            JsonNode standby = dr.status();
            for (String id : List.of("tokyo", "nagoya")) {
              healthyStayedConnected &= peer(standby, id).path("connected").asBoolean();
            }
            if (round == 1) {
              PromoteIT.Cli status = PromoteIT.cli("status", "--admin", "127.0.0.1:" + drAdmin);
              statusDuringCut = status.output();
            }
            if (round == 0) {
              historyBefore = TwoSites.vol0(cut.site().status()).path("historyBytes").asLong();
            } else if (round == 2) {
              historyGrew = TwoSites.vol0(cut.site().status()).path("historyBytes").asLong();
            }
          }
          System.out.printf(
              "NToOneIT: during osaka's cut (%d samples) max lag tokyo %.3f s, nagoya %.3f s;"
                  + " osaka's history %d -> %d bytes%n",
              samples, maxLag[0], maxLag[2], historyBefore, historyGrew);
          assertThat(statusDuringCut)
              .as("kagami status on the standby shows each peer")
              .contains("peer tokyo: connected")
              .contains("peer nagoya: connected")
              .contains("peer osaka: DISCONNECTED")
              .contains("next: primary osaka is not connected");
          assertThat(healthyStayedConnected)
              .as("tokyo and nagoya stay connected to the standby while osaka is cut")
              .isTrue();
          assertThat(maxLag[0]).as("tokyo's lag while osaka is cut").isLessThan(1.0);
          assertThat(maxLag[2]).as("nagoya's lag while osaka is cut").isLessThan(1.0);
          assertThat(historyBefore).as("osaka's history while cut").isPositive();
          assertThat(historyGrew)
              .as("osaka's history grows while cut")
              .isGreaterThan(historyBefore);
          cut.site()
              .awaitStatus(
                  s -> TwoSites.vol0(s).path("state").asText().equals("bitmap"),
                  T,
                  "osaka's history to overflow into its changed-region map");
          // Tokyo and nagoya are in sync and stop writing: the heal must not touch their volumes.
          for (String id : List.of("tokyo", "nagoya")) {
            awaitInSync(primaries.get(id), dr);
          }
          JsonNode beforeHeal = dr.status();
          for (JsonNode v : beforeHeal.path("volumes")) {
            standbySeqBeforeHeal.put(v.path("name").asText(), v.path("lastWriteSeq").asLong());
          }
          long entriesBefore =
              volume(beforeHeal, "tokyo.vol0").path("lastJournaledSeq").asLong()
                  + volume(beforeHeal, "nagoya.vol0").path("lastJournaledSeq").asLong();
          long standbyRawBefore = peerRaw(dr, "tokyo") + peerRaw(dr, "nagoya");

          // 3. The heal: osaka resynchronizes its own changed regions only.
          cut.proxy().enable();
          awaitInSync(cut, dr);
          dr.awaitStatus(
              s -> volume(s, "osaka.vol0").path("state").asText().equals("replicating"),
              T,
              "osaka's replica to be consistent again");
          Matcher m = Pattern.compile("resync of (\\d+) regions").matcher(cut.site().log());
          assertThat(m.find()).as("osaka logged its resync; log:\n%s", cut.site().log()).isTrue();
          long regions = Long.parseLong(m.group(1));
          System.out.printf(
              "NToOneIT: osaka's resync copied %d regions; %d of its %d regions were written while cut%n",
              regions, dirty.size(), VOLUME / REGION);
          // Only osaka's changed regions: never more than were written while it was cut, and
          // nothing of another peer's volume (checked below by their journals on the standby).
          assertThat(dirty.size()).isLessThan((int) (VOLUME / REGION));
          assertThat(regions).isBetween(1L, (long) dirty.size());
          for (String id : List.of("tokyo", "nagoya")) {
            assertThat(primaries.get(id).site().log())
                .as(id + " never resynchronizes: osaka's cut is not its business")
                .doesNotContain("resync of");
          }
          // Bytes first, then seqs (and the other way round before the heal): every entry whose
          // bytes are counted is counted as an entry too.
          long standbyRawAfter = peerRaw(dr, "tokyo") + peerRaw(dr, "nagoya");
          JsonNode afterHeal = dr.status();
          for (String name : List.of("tokyo.vol0", "nagoya.vol0")) {
            assertThat(volume(afterHeal, name).path("lastWriteSeq").asLong())
                .as(name + " on the standby received no write during osaka's resync")
                .isEqualTo(standbySeqBeforeHeal.get(name));
            assertThat(volume(afterHeal, name).path("state").asText()).isEqualTo("replicating");
          }
          // Their primaries go on placing verification points (continuous verification): what
          // arrived for them is those alone, at most 44 bytes an entry (a VERIFY_SUM record),
          // where any write of this test is 256 KiB.
          long entriesAfter =
              volume(afterHeal, "tokyo.vol0").path("lastJournaledSeq").asLong()
                  + volume(afterHeal, "nagoya.vol0").path("lastJournaledSeq").asLong();
          assertThat(standbyRawAfter - standbyRawBefore)
              .as(
                  "bytes that arrived for tokyo or nagoya during osaka's resync, in %d entries",
                  entriesAfter - entriesBefore)
              .isLessThanOrEqualTo(44 * (entriesAfter - entriesBefore));

          // 4. The standby's metrics carry each volume's peer.
          String metrics = dr.metrics();
          for (String id : PRIMARIES) {
            assertThat(metrics)
                .contains("peer=\"" + id + "\"")
                .containsPattern(
                    "kagami_replication_lag_seconds\\{[^}]*peer=\""
                        + id
                        + "\"[^}]*volume=\""
                        + id
                        + "\\.vol0\"");
            assertThat(metrics).containsPattern("kagami_wan_connected\\{peer=\"" + id + "\"");
          }
        } finally {
          for (NbdTestClient c : clients.values()) {
            c.close();
          }
        }
        // 5. Every replica is byte-identical to its own source.
        Path previous = null;
        for (Primary p : primaries.values()) {
          Path src = dir.resolve(p.id() + "-source.img");
          Path rep = dir.resolve(p.id() + "-replica.img");
          ExternalTool.require("nbdcopy").run(T, p.uri(), src.toString()).requireSuccess();
          ExternalTool.require("nbdcopy")
              .run(T, "nbd://127.0.0.1:" + drNbd + "/" + p.id() + ".vol0", rep.toString())
              .requireSuccess();
          DataFiles.assertSameContent(p.id() + " vol0", src, "dr " + p.id() + ".vol0", rep);
          if (previous != null) {
            assertThat(Files.mismatch(previous, src))
                .as("the sources differ, so identical replicas prove no cross-talk")
                .isNotEqualTo(-1L);
          }
          previous = src;
        }
        // 6. Promoting the N:1 standby would take over every peer at once: refused, with the
        // reason.
        PromoteIT.Cli promote = PromoteIT.cli("promote", "--admin", "127.0.0.1:" + drAdmin);
        assertThat(promote.exit()).as(promote.output()).isEqualTo(3);
        assertThat(promote.output())
            .contains("receives from several primaries [tokyo, osaka, nagoya]");
        assertThat(dr.status().path("role").asText()).isEqualTo("standby");
      } finally {
        all.forEach(SiteProcess::close);
      }
    }
  }

  /** Waits (bounded) until the standby applied everything {@code p} journaled. */
  private static void awaitInSync(Primary p, SiteProcess dr) throws Exception {
    long target = TwoSites.vol0(p.site().status()).path("lastJournaledSeq").asLong();
    p.site()
        .awaitStatus(
            s ->
                TwoSites.vol0(s).path("lastAckedByPeerSeq").asLong() >= target
                    && TwoSites.vol0(s).path("lagBytes").asLong() == 0,
            T,
            p.id() + " acknowledged through seq " + target);
    dr.awaitStatus(
        s -> volume(s, p.id() + ".vol0").path("lastAppliedSeq").asLong() >= target,
        T,
        "dr applied " + p.id() + ".vol0 through seq " + target);
  }

  private static JsonNode volume(JsonNode status, String name) {
    for (JsonNode v : status.path("volumes")) {
      if (v.path("name").asText().equals(name)) {
        return v;
      }
    }
    throw new AssertionError("no volume " + name + " in " + status);
  }

  private static JsonNode peer(JsonNode status, String id) {
    for (JsonNode p : status.path("peers")) {
      if (p.path("siteId").asText().equals(id)) {
        return p;
      }
    }
    throw new AssertionError("no peer " + id + " in " + status);
  }

  private static long peerRaw(SiteProcess dr, String id) throws Exception {
    return peer(dr.status(), id).path("receivedBytes").asLong();
  }

  /** {@code n} writes of 256 KiB of random data at random 64 KiB-aligned offsets. */
  private static void writeRegions(NbdTestClient c, Random rnd, int n) throws Exception {
    writeRegionsAsync(c, rnd, n, new HashSet<>()).get(30, TimeUnit.SECONDS);
  }

  /**
   * As {@link #writeRegions}, without waiting; adds each 64 KiB region written to {@code dirty}.
   */
  private static CompletableFuture<Void> writeRegionsAsync(
      NbdTestClient c, Random rnd, int n, Set<Long> dirty) {
    List<CompletableFuture<Void>> writes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] data = new byte[4 * REGION];
      rnd.nextBytes(data);
      long region = rnd.nextInt((int) (VOLUME / REGION) - 4);
      long offset = region * REGION;
      for (long r = region; r < region + 4; r++) {
        dirty.add(r);
      }
      writes.add(c.write(offset, data));
    }
    return CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new));
  }
}
