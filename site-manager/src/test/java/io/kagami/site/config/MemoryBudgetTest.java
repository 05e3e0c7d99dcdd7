package io.kagami.site.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MemoryBudgetTest {
  private static final long MIB = 1L << 20;

  @Test
  void sharesOfTheDefaultBudgetAddUpToItAndDivideByVolumes() {
    MemoryBudget one = new MemoryBudget(MemoryBudget.DEFAULT_BYTES, 1);
    MemoryBudget eight = new MemoryBudget(MemoryBudget.DEFAULT_BYTES, 8);
    assertThat(one.problem()).isNull();
    assertThat(eight.problem()).isNull();
    assertThat(
            MemoryBudget.RUNTIME_RESERVE_BYTES
                + eight.heapBytes()
                + eight.directBytes()
                + eight.rocksBytes())
        .as("reserve + heap + off-heap + RocksDB")
        .isLessThanOrEqualTo(MemoryBudget.DEFAULT_BYTES);
    assertThat(eight.heapBytes() % (4 * MIB)).as("whole G1 regions").isZero();
    assertThat(eight.tailCacheBytesPerVolume() * 8 + eight.wanWindowBytesPerVolume() * 8L)
        .as("tail caches and WAN windows of all volumes: half the heap at most")
        .isLessThanOrEqualTo(eight.heapBytes() / 2);
    assertThat(eight.tailCacheBytesPerVolume()).isLessThan(one.tailCacheBytesPerVolume());
    assertThat(eight.memtableBytes() + eight.blockCacheBytes()).isEqualTo(eight.rocksBytes());
    assertThat(one.jvmOptions())
        .contains("-Xmx" + (one.heapBytes() >> 20) + "m", "-XX:+ExitOnOutOfMemoryError");
  }

  @Test
  void aJvmThatRunsTwoSitesGetsBothHeapsAndWarnsOnlyPastThem() {
    MemoryBudget one = new MemoryBudget(MemoryBudget.DEFAULT_BYTES, 1);
    assertThat(one.jvmOptions(2))
        .as("the demo's primary and standby share one JVM")
        .contains(
            "-Xmx" + (2 * one.heapBytes() >> 20) + "m",
            "-XX:MaxDirectMemorySize=" + (2 * one.directLimitBytes() >> 20) + "m");
    assertThat(one.heapWarning(2 * one.heapBytes(), 2)).isNull();
    assertThat(one.heapWarning(2 * one.heapBytes(), 1))
        .startsWith("the JVM's heap (" + (2 * one.heapBytes() >> 20) + " MiB) is larger")
        .contains("-Xmx" + (one.heapBytes() >> 20) + "m");
    assertThat(one.heapWarning(4L << 30, 2)).contains("for 2 sites");
    assertThat(io.kagami.site.cli.JvmOptions.of("demo"))
        .contains("-Xmx" + (2 * one.heapBytes() >> 20) + "m");
    assertThat(io.kagami.site.cli.JvmOptions.of("run", "--config", "absent.yaml"))
        .contains("-Xmx" + (one.heapBytes() >> 20) + "m");
  }

  @Test
  void aBudgetTooSmallForItsVolumesSaysWhatItNeeds() {
    MemoryBudget tight = new MemoryBudget(256 * MIB, 64);
    assertThat(tight.problem())
        .startsWith("memory.budget 256MiB cannot hold 64 volumes")
        .contains("raise memory.budget to at least " + new DataSize(MemoryBudget.leastFor(64)));
    assertThat(new MemoryBudget(MemoryBudget.leastFor(64), 64).problem()).isNull();
    assertThat(new MemoryBudget(MemoryBudget.DEFAULT_BYTES, 32).problem()).isNull();
  }

  @Test
  void theConfigurationReadsTheBudgetAndRefusesOneThatCannotHoldTheVolumes(@TempDir Path base)
      throws Exception {
    Path peer = io.kagami.site.SiteLink.ensureCredentials(base.resolve("peer"), "hiroshima");
    String yaml =
        """
        site: {id: tokyo, role: primary}
        dataDir: data
        memory: {budget: %s}
        wan: {peer: "127.0.0.1:7800", peerSiteId: hiroshima, peerCertificate: %s}
        volumes: [{name: a, size: 1MiB}, {name: b, size: 1MiB}]
        """;
    yaml = yaml.formatted("%s", peer);
    ConfigCheck ok = ConfigLoader.inspect(yaml.formatted("768MiB"), "site.yaml", base, null);
    assertThat(ok.config()).as("%s", ok.problems()).isNotNull();
    assertThat(ok.config().memory()).isEqualTo(new MemoryBudget(768 * MIB, 2));
    ConfigCheck small = ConfigLoader.inspect(yaml.formatted("128MiB"), "site.yaml", base, null);
    assertThat(small.problems().toString())
        .contains("memory.budget 128MiB cannot hold 2 volumes")
        .contains("raise memory.budget to at least");
  }
}
