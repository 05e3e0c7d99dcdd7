package io.kagami.site.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.kagami.clock.SystemTime;
import io.kagami.site.SiteLink;
import io.kagami.testkit.data.DataFiles;
import io.kagami.testkit.nbd.NbdTestClient;
import io.kagami.testkit.net.FreePorts;
import io.kagami.testkit.tools.ExternalTool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Per-peer promotion on an N:1 standby, as four real processes: three primaries ({@code tokyo},
 * {@code osaka}, {@code nagoya}) replicate into {@code dr}. Osaka is killed with kill -9 and {@code
 * kagami promote --peer osaka} runs on dr while tokyo and nagoya keep writing: their lag stays
 * under a second throughout and they never disconnect; osaka.vol0 becomes a writable export holding
 * exactly osaka's last acknowledged data; the restarted osaka is refused as stale (its log and
 * status say why) and nothing it writes reaches dr; tokyo's and nagoya's replicas end
 * byte-identical to their sources. Then nagoya is promoted to a point in time ({@code --seq}), and
 * its replica is rolled back to exactly what it held then; a restart of dr keeps all of that.
 */
class NToOnePromoteIT {
  private static final long VOLUME = 16L << 20;
  private static final int REGION = 64 << 10;
  private static final Duration T = Duration.ofMinutes(2);
  private static final List<String> PRIMARIES = List.of("tokyo", "osaka", "nagoya");
  private static final String PROMOTED = "osaka";
  private static final List<String> OTHERS = List.of("tokyo", "nagoya");
  private static final String PIT = "nagoya";

  @TempDir Path dir;

  private record Primary(String id, SiteProcess site, int nbd) {
    String uri() {
      return "nbd://127.0.0.1:" + nbd + "/vol0";
    }
  }

  @Test
  void promotingOnePeerLeavesTheOthersReplicatingAndRefusesItsOldPrimary() throws Exception {
    long seed = Long.getLong("kagami.seed", SystemTime.NANO.nanoTime());
    Random rnd = new Random(seed);
    System.out.println("NToOnePromoteIT seed=" + seed);
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
      // Nagoya keeps history on dr, for its point-in-time promotion at the end.
      String retention = id.equals(PIT) ? ", retention: 1h" : "";
      peers.append(
          "  - {siteId: %s, certificate: %s, historyQuota: 64MiB, volumes: [{name: vol0, size: %d%s}]}\n"
              .formatted(id, dir.relativize(cert), VOLUME, retention));
      Files.writeString(
          dir.resolve(id + ".yaml"),
          """
          site: {id: %s, role: primary}
          dataDir: %s
          nbd: {listen: "127.0.0.1:%d"}
          admin: {listen: "127.0.0.1:%d"}
          wan: {peer: "127.0.0.1:%d", peerSiteId: dr, peerCertificate: %s}
          volumes: [{name: vol0, size: %d, historyCapacity: 64MiB}]
          """
              .formatted(id, id, nbd, admin, drWan, dir.relativize(drCert), VOLUME));
      SiteProcess p = new SiteProcess(dir.resolve(id + ".yaml"), "127.0.0.1:" + admin);
      primaries.put(id, new Primary(id, p, nbd));
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
    String drAddress = "127.0.0.1:" + drAdmin;
    try {
      dr.start();
      for (Primary p : primaries.values()) {
        p.site().start();
      }
      dr.awaitStatus(
          s -> s.path("link").path("connected").asBoolean(),
          Duration.ofSeconds(60),
          "all three primaries to connect");
      for (String id : PRIMARIES) {
        assertThat(peer(dr.status(), id).path("role").asText()).isEqualTo("replicating");
      }

      Map<String, NbdTestClient> clients = new LinkedHashMap<>();
      for (Primary p : primaries.values()) {
        clients.put(p.id(), NbdTestClient.connect("127.0.0.1", p.nbd(), "vol0"));
      }
      Path osakaAcked = dir.resolve("osaka-acknowledged.img");
      Path nagoyaEarlier = dir.resolve("nagoya-earlier.img");
      long nagoyaEarlierSeq;
      try {
        // 1. All three replicate; osaka's last writes are acknowledged by dr, then osaka dies.
        for (int round = 0; round < 6; round++) {
          for (NbdTestClient c : clients.values()) {
            writeRegions(c, rnd, 2);
          }
        }
        for (Primary p : primaries.values()) {
          awaitInSync(p, dr);
        }
        ExternalTool.require("nbdcopy")
            .run(T, primaries.get(PIT).uri(), nagoyaEarlier.toString())
            .requireSuccess();
        nagoyaEarlierSeq =
            TwoSites.vol0(primaries.get(PIT).site().status()).path("lastJournaledSeq").asLong();
        Primary osaka = primaries.get(PROMOTED);
        ExternalTool.require("nbdcopy").run(T, osaka.uri(), osakaAcked.toString()).requireSuccess();
        long osakaSeq = TwoSites.vol0(osaka.site().status()).path("lastJournaledSeq").asLong();
        clients.remove(PROMOTED).close();
        osaka.site().kill9();

        // 2. promote --peer osaka while tokyo and nagoya keep writing.
        CompletableFuture<PromoteIT.Cli> promote =
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return PromoteIT.cli("promote", "--peer", PROMOTED, "--admin", drAddress);
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                });
        double[] maxLag = new double[2];
        double maxStandbyLag = 0;
        boolean othersStayedConnected = true;
        int samples = 0;
        int roundsAfter = 0;
        for (int round = 0; round < 600 && roundsAfter < 10; round++) {
          for (String id : OTHERS) {
            writeRegions(clients.get(id), rnd, 1);
          }
          for (int i = 0; i < OTHERS.size(); i++) {
            JsonNode v = TwoSites.vol0(primaries.get(OTHERS.get(i)).site().status());
            maxLag[i] = Math.max(maxLag[i], v.path("lagSeconds").asDouble());
          }
          JsonNode standby = dr.status();
          for (String id : OTHERS) {
            othersStayedConnected &= peer(standby, id).path("connected").asBoolean();
            maxStandbyLag =
                Math.max(maxStandbyLag, peer(standby, id).path("lagSeconds").asDouble());
          }
          samples++;
          if (promote.isDone()) {
            roundsAfter++;
          }
        }
        PromoteIT.Cli promoted = promote.get(T.toSeconds(), TimeUnit.SECONDS);
        System.out.printf(
            "NToOnePromoteIT: during promote --peer osaka (%d samples) max lag tokyo %.3f s,"
                + " nagoya %.3f s; standby's view of their lag max %.3f s%n%s%n",
            samples, maxLag[0], maxLag[1], maxStandbyLag, promoted.output());
        assertThat(promoted.exit()).as(promoted.output()).isZero();
        assertThat(promoted.output())
            .contains("the volumes of osaka are now writable")
            .contains("osaka.vol0: from seq " + osakaSeq);
        assertThat(roundsAfter)
            .as("tokyo and nagoya kept writing after the promotion")
            .isEqualTo(10);
        assertThat(othersStayedConnected)
            .as("tokyo and nagoya stay connected to dr while osaka is promoted")
            .isTrue();
        assertThat(maxLag[0]).as("tokyo's lag while osaka is promoted").isLessThan(1.0);
        assertThat(maxLag[1]).as("nagoya's lag while osaka is promoted").isLessThan(1.0);

        // 3. dr shows osaka promoted and the others replicating; osaka.vol0 is writable there and
        // holds osaka's last acknowledged data.
        JsonNode after = dr.status();
        assertThat(after.path("role").asText()).as("the site stays a standby").isEqualTo("standby");
        assertThat(peer(after, PROMOTED).path("role").asText()).isEqualTo("promoted");
        assertThat(peer(after, PROMOTED).path("promotedAt").asText()).isNotEmpty();
        assertThat(volume(after, "osaka.vol0").path("role").asText()).isEqualTo("primary");
        for (String id : OTHERS) {
          assertThat(peer(after, id).path("role").asText()).isEqualTo("replicating");
          assertThat(volume(after, id + ".vol0").path("role").asText()).isEqualTo("standby");
        }
        PromoteIT.Cli status = PromoteIT.cli("status", "--admin", drAddress);
        assertThat(status.output())
            .as(status.output())
            .contains("peer osaka: PROMOTED here at")
            .contains("peer tokyo: connected")
            .contains("peer nagoya: connected")
            .doesNotContain("primary osaka is not connected");
        Path promotedCopy = dir.resolve("osaka-promoted.img");
        String drOsaka = "nbd://127.0.0.1:" + drNbd + "/osaka.vol0";
        ExternalTool.require("nbdcopy").run(T, drOsaka, promotedCopy.toString()).requireSuccess();
        DataFiles.assertSameContent(
            "osaka's last acknowledged vol0", osakaAcked, "dr's promoted osaka.vol0", promotedCopy);
        byte[] taken = new byte[REGION];
        rnd.nextBytes(taken);
        try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", drNbd, "osaka.vol0")) {
          assertThat(c.isReadOnly()).as("the promoted export takes writes").isFalse();
          c.write(0, taken).get(30, TimeUnit.SECONDS);
          c.flush().get(30, TimeUnit.SECONDS);
          assertThat(c.read(0, REGION).get(30, TimeUnit.SECONDS)).isEqualTo(taken);
        }
        try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", drNbd, "tokyo.vol0")) {
          assertThat(c.isReadOnly()).as("tokyo's replica stays read-only").isTrue();
        }
        JsonNode drBeforeReturn = volume(dr.status(), "osaka.vol0");
        long drOsakaSeq = drBeforeReturn.path("lastWriteSeq").asLong();
        long drOsakaJournaled = drBeforeReturn.path("lastJournaledSeq").asLong();
        assertThat(drOsakaSeq).as("osaka.vol0's newest write on dr").isGreaterThan(osakaSeq);

        // 4. The old osaka returns and writes: refused as stale, nothing reaches dr.
        osaka.site().start();
        try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", osaka.nbd(), "vol0")) {
          writeRegions(c, rnd, 4);
        }
        JsonNode refused =
            osaka
                .site()
                .awaitStatus(
                    s -> s.path("link").path("lastError").asText().contains("is stale"),
                    T,
                    "the old osaka to be refused by dr");
        System.out.println(
            "NToOnePromoteIT: osaka's link: " + refused.path("link").path("lastError").asText());
        assertThat(refused.path("link").path("connected").asBoolean()).isFalse();
        assertThat(refused.path("link").path("lastError").asText())
            .contains("promoted on standby dr")
            .contains("new data generation");
        assertThat(dr.log()).contains("site \"osaka\" is stale");
        JsonNode drAfterReturn = dr.status();
        assertThat(volume(drAfterReturn, "osaka.vol0").path("lastWriteSeq").asLong())
            .as("nothing of the old osaka was written on dr")
            .isEqualTo(drOsakaSeq);
        // Nor anything else: a promoted peer's volume has no standby to verify it, so dr places no
        // verification points for it (the others' connected links notwithstanding).
        assertThat(volume(drAfterReturn, "osaka.vol0").path("lastJournaledSeq").asLong())
            .as("osaka.vol0's journal on dr while nobody replicates it")
            .isEqualTo(drOsakaJournaled);
        assertThat(peer(drAfterReturn, PROMOTED).path("connected").asBoolean()).isFalse();
        try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", drNbd, "osaka.vol0")) {
          assertThat(c.read(0, REGION).get(30, TimeUnit.SECONDS))
              .as("dr's osaka.vol0 keeps what was written there")
              .isEqualTo(taken);
        }

        // 5. A second promotion of osaka, and promoting the whole standby, are refused.
        PromoteIT.Cli again = PromoteIT.cli("promote", "--peer", PROMOTED, "--admin", drAddress);
        assertThat(again.exit()).as(again.output()).isEqualTo(3);
        assertThat(again.output()).contains("were promoted on dr already");
        PromoteIT.Cli unknown = PromoteIT.cli("promote", "--peer", "kyoto", "--admin", drAddress);
        assertThat(unknown.exit()).as(unknown.output()).isEqualTo(3);
        assertThat(unknown.output()).contains("has no peer \"kyoto\"");
        PromoteIT.Cli whole = PromoteIT.cli("promote", "--admin", drAddress);
        assertThat(whole.exit()).as(whole.output()).isEqualTo(3);
        assertThat(whole.output()).contains("--peer NAME");
        PromoteIT.Cli wholeAtASeq = PromoteIT.cli("promote", "--seq", "1", "--admin", drAddress);
        assertThat(wholeAtASeq.exit()).as(wholeAtASeq.output()).isEqualTo(3);
        assertThat(wholeAtASeq.output()).contains("--peer NAME");

        // 6. tokyo and nagoya: in sync and byte-identical.
        for (String id : OTHERS) {
          awaitInSync(primaries.get(id), dr);
        }
      } finally {
        for (NbdTestClient c : clients.values()) {
          c.close();
        }
      }
      for (String id : OTHERS) {
        Primary p = primaries.get(id);
        Path src = dir.resolve(id + "-source.img");
        Path rep = dir.resolve(id + "-replica.img");
        ExternalTool.require("nbdcopy").run(T, p.uri(), src.toString()).requireSuccess();
        ExternalTool.require("nbdcopy")
            .run(T, "nbd://127.0.0.1:" + drNbd + "/" + id + ".vol0", rep.toString())
            .requireSuccess();
        DataFiles.assertSameContent(id + " vol0", src, "dr " + id + ".vol0", rep);
      }

      // 7. Point in time: nagoya (its writer stopped) is promoted at the seq it had before the
      // writes of step 2; its replica is rolled back to exactly what it held then. Tokyo goes on.
      PromoteIT.Cli pit =
          PromoteIT.cli(
              "promote",
              "--peer",
              PIT,
              "--seq",
              Long.toString(nagoyaEarlierSeq),
              "--admin",
              drAddress);
      assertThat(pit.exit()).as(pit.output()).isZero();
      assertThat(pit.output()).contains("nagoya.vol0: from seq " + nagoyaEarlierSeq);
      Path nagoyaRolledBack = dir.resolve("nagoya-rolled-back.img");
      ExternalTool.require("nbdcopy")
          .run(T, "nbd://127.0.0.1:" + drNbd + "/nagoya.vol0", nagoyaRolledBack.toString())
          .requireSuccess();
      DataFiles.assertSameContent(
          "nagoya's vol0 at seq " + nagoyaEarlierSeq,
          nagoyaEarlier,
          "dr's nagoya.vol0 promoted at that seq",
          nagoyaRolledBack);
      assertThat(peer(dr.status(), "tokyo").path("connected").asBoolean())
          .as("tokyo still connected after nagoya's promotion")
          .isTrue();

      // 8. dr restarts: osaka and nagoya stay promoted (writable, refused), tokyo resumes.
      dr.stop();
      dr.start();
      dr.awaitStatus(
          s -> s.path("link").path("connected").asBoolean(),
          T,
          "tokyo to reconnect to the restarted dr (osaka and nagoya promoted, not awaited)");
      JsonNode restarted = dr.status();
      assertThat(peer(restarted, PROMOTED).path("role").asText()).isEqualTo("promoted");
      assertThat(peer(restarted, PIT).path("role").asText()).isEqualTo("promoted");
      assertThat(peer(restarted, "tokyo").path("role").asText()).isEqualTo("replicating");
      assertThat(volume(restarted, "tokyo.vol0").path("role").asText()).isEqualTo("standby");
      assertThat(volume(restarted, "osaka.vol0").path("role").asText()).isEqualTo("primary");
      try (NbdTestClient c = NbdTestClient.connect("127.0.0.1", drNbd, "osaka.vol0")) {
        assertThat(c.isReadOnly()).isFalse();
      }
      String metrics = dr.metrics();
      for (String id : PRIMARIES) {
        assertThat(metrics).contains("peer=\"" + id + "\"");
      }
      primaries
          .get(PROMOTED)
          .site()
          .awaitStatus(
              s ->
                  s.path("link").path("lastError").asText().contains("is stale")
                      && !s.path("link").path("connected").asBoolean(),
              T,
              "the old osaka to be refused by the restarted dr too");
      assertThat(Arrays.asList(dr.log().split("\n")))
          .as("dr logged the promotion")
          .anyMatch(l -> l.contains("the volumes of peer osaka PROMOTED"));
    } finally {
      all.forEach(SiteProcess::close);
    }
  }

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

  /** {@code n} writes of 256 KiB of random data at random 64 KiB-aligned offsets. */
  private static void writeRegions(NbdTestClient c, Random rnd, int n) throws Exception {
    List<CompletableFuture<Void>> writes = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] data = new byte[4 * REGION];
      rnd.nextBytes(data);
      long region = rnd.nextInt((int) (VOLUME / REGION) - 4);
      writes.add(c.write(region * REGION, data));
    }
    CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
  }
}
