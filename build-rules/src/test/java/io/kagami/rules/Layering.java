package io.kagami.rules;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.lang.ArchRule;
import io.kagami.clock.SuppressForbidden;
import java.util.List;

/**
 * The dependency rules of Kagami's code, one {@link ArchRule} each, with the reason an operator's
 * engineer would give. {@link LayeringTest} checks them against the main code of every module;
 * {@link LayeringRulesFailTest} shows each one failing on a class that breaks it.
 *
 * <p>The modules follow the data flow: {@code clock} at the bottom, then {@code journal}; {@code
 * replicator} (NBD, volumes, apply) and {@code wan-transport} (shipping, receiving) on top of the
 * journal and unaware of each other; {@code failover-policy} a pure decision core beside them;
 * {@code site-manager} wiring them into a daemon and a CLI. Maven's module dependencies already
 * stop most imports upward; these rules keep what a pom cannot: that a module does not grow a
 * dependency it should not have, and what each layer may touch of the outside world.
 */
final class Layering {
  private Layering() {}

  static final String CLOCK = "io.kagami.clock..";
  static final String JOURNAL = "io.kagami.journal..";
  static final String REPLICATOR = "io.kagami.replicator..";
  static final String WAN = "io.kagami.wan..";
  static final String FAILOVER = "io.kagami.failover..";
  static final String SITE = "io.kagami.site..";
  static final String TESTKIT = "io.kagami.testkit..";
  static final String BENCH = "io.kagami.bench..";

  /** Time has no dependencies: everything may read it, it reads nothing of ours. */
  static final ArchRule CLOCK_AT_THE_BOTTOM =
      noClasses()
          .that()
          .resideInAPackage(CLOCK)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(JOURNAL, REPLICATOR, WAN, FAILOVER, SITE, TESTKIT, BENCH)
          .as("the clock depends on no other Kagami module");

  /** The journal is storage only: it never learns who writes into it or where entries go. */
  static final ArchRule JOURNAL_ABOVE_CLOCK_ONLY =
      noClasses()
          .that()
          .resideInAPackage(JOURNAL)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(REPLICATOR, WAN, FAILOVER, SITE, TESTKIT, BENCH)
          .as("the journal depends on nothing of Kagami but the clock");

  /** Block I/O (NBD, volumes, apply) and the WAN meet only in the site manager's wiring. */
  static final ArchRule REPLICATOR_KNOWS_NO_WAN =
      noClasses()
          .that()
          .resideInAPackage(REPLICATOR)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(WAN, FAILOVER, SITE, TESTKIT, BENCH)
          .as("the replicator depends only on the journal and the clock");

  /** The WAN carries journal entries; it knows nothing of NBD, volumes or sites. */
  static final ArchRule WAN_KNOWS_NO_NBD =
      noClasses()
          .that()
          .resideInAPackage(WAN)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(REPLICATOR, FAILOVER, SITE, TESTKIT, BENCH)
          .as("wan-transport depends only on the journal and the clock");

  /**
   * The failover core decides from observations and a clock; it does no I/O, so every decision can
   * be replayed by a test with a fake clock and nothing can block it.
   */
  static final ArchRule FAILOVER_CORE_IS_PURE =
      noClasses()
          .that()
          .resideInAPackage(FAILOVER)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(
              JOURNAL,
              REPLICATOR,
              WAN,
              SITE,
              TESTKIT,
              BENCH,
              "java.net..",
              "java.nio.file..",
              "java.nio.channels..",
              "com.sun.net.httpserver..",
              "io.netty..",
              "org.rocksdb..")
          .orShould()
          .dependOnClassesThat()
          .haveFullyQualifiedName(ProcessBuilder.class.getName())
          .orShould()
          .dependOnClassesThat()
          .haveFullyQualifiedName(java.io.File.class.getName())
          .orShould()
          .dependOnClassesThat()
          .haveFullyQualifiedName(java.io.FileInputStream.class.getName())
          .orShould()
          .dependOnClassesThat()
          .haveFullyQualifiedName(java.io.FileOutputStream.class.getName())
          .orShould()
          .dependOnClassesThat()
          .haveFullyQualifiedName(java.util.concurrent.Executors.class.getName())
          .as("the failover policy is pure: no I/O, no threads, nothing of Kagami but the clock");

  /** Test fixtures (fault proxy, NBD test client) never ship in the daemon. */
  static final ArchRule NO_TESTKIT_IN_PRODUCT =
      noClasses()
          .that()
          .resideInAnyPackage(CLOCK, JOURNAL, REPLICATOR, WAN, FAILOVER, SITE)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage(TESTKIT, BENCH)
          .as("product code does not use the testkit or the benchmarks");

  /** RocksDB is the journal's private storage engine; nobody else opens or reads it. */
  static final ArchRule ROCKSDB_ONLY_IN_JOURNAL =
      noClasses()
          .that()
          .resideOutsideOfPackages(JOURNAL, BENCH)
          .should()
          .dependOnClassesThat()
          .resideInAPackage("org.rocksdb..")
          .as("only the journal touches RocksDB");

  /**
   * The site manager wires; the wire and storage formats (LZ4 blocks, RocksDB) belong to the
   * modules that read and write them.
   */
  static final ArchRule SITE_ONLY_WIRES =
      noClasses()
          .that()
          .resideInAPackage(SITE)
          .should()
          .dependOnClassesThat()
          .resideInAnyPackage("net.jpountz..", "org.rocksdb..")
          .as("the site manager holds no codec or storage engine of its own");

  /**
   * Only the clock module may switch off the forbidden-API check (raw clocks, sleeps, parks): every
   * other read of time is a seam a test can replace.
   */
  static final ArchRule SUPPRESSION_ONLY_IN_CLOCK =
      noClasses()
          .that()
          .resideOutsideOfPackage(CLOCK)
          .should()
          .beAnnotatedWith(SuppressForbidden.class)
          .orShould()
          .dependOnClassesThat()
          .areAssignableTo(SuppressForbidden.class)
          .as("only io.kagami.clock may suppress the forbidden-API rules");

  static final List<ArchRule> ALL =
      List.of(
          CLOCK_AT_THE_BOTTOM,
          JOURNAL_ABOVE_CLOCK_ONLY,
          REPLICATOR_KNOWS_NO_WAN,
          WAN_KNOWS_NO_NBD,
          FAILOVER_CORE_IS_PURE,
          NO_TESTKIT_IN_PRODUCT,
          ROCKSDB_ONLY_IN_JOURNAL,
          SITE_ONLY_WIRES,
          SUPPRESSION_ONLY_IN_CLOCK);
}
