package io.kagami.site.metrics;

import io.kagami.replicator.volume.AppendTimer;
import io.kagami.replicator.volume.BlockDevice;
import io.kagami.site.VolumeState;
import io.kagami.site.admin.LinkStatus;
import io.kagami.site.admin.PeerStatus;
import io.kagami.site.admin.SiteStatus;
import io.kagami.site.admin.VolumeStatus;
import io.kagami.site.config.VolumeConfig;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * The site's Prometheus metrics ({@code GET /metrics}). Replication figures are read from one
 * status snapshot per scrape, so every series of a scrape describes the same moment.
 *
 * <p>Names are part of Kagami's contract (dashboards and alert rules use them): {@code
 * kagami_replication_lag_bytes}, {@code kagami_replication_lag_seconds}, {@code
 * kagami_history_bytes}, {@code kagami_journal_last_seq}, {@code kagami_role}, {@code
 * kagami_wan_connected}, {@code kagami_wan_sent_bytes_total{encoding="raw"|"wire"}}, {@code
 * kagami_nbd_requests_total{op,result}}, {@code kagami_nbd_request_seconds{op}} (histogram), {@code
 * kagami_journal_append_seconds} (histogram, primary), {@code kagami_history_capacity_bytes},
 * {@code kagami_resync_remaining_bytes}, {@code kagami_volume_state{state}} (one series per {@link
 * VolumeState}, 1 for the current), {@code kagami_volume_disk_full}, {@code kagami_unsent_bytes},
 * {@code kagami_wan_bandwidth_bytes_per_second} (0 = unlimited), {@code
 * kagami_wan_send_rate_bytes_per_second}, {@code kagami_rpo_at_risk_seconds}, {@code
 * kagami_primary_last_seq} and {@code kagami_primary_contact_age_seconds} (standby), plus JVM and
 * process metrics.
 *
 * <p>One role: the site's Prometheus exposition. It is long because every series is registered
 * here, by name, with its description (the memory budget's shares and the recovery orchestrator's
 * figures included); a registration is a few lines that belong with the others.
 */
public final class SiteMetrics implements AutoCloseable {
  private final PrometheusMeterRegistry registry =
      new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Supplier<SiteStatus> status;
  private final JvmGcMetrics gc = new JvmGcMetrics();
  private final String siteId;
  private final Function<String, String> peerOf;
  private volatile SiteStatus last;

  /** Held here: Micrometer keeps only a weak reference to a function meter's state object. */
  private volatile java.util.function.LongSupplier wanLogDropped = () -> 0;

  /** A site with one peer, {@code peerSiteId}. */
  public SiteMetrics(
      Supplier<SiteStatus> status,
      String siteId,
      String role,
      String peerSiteId,
      List<VolumeConfig> volumes) {
    this(status, siteId, role, volume -> peerSiteId, List.of(), volumes);
  }

  /**
   * {@code peerOf}: the site each volume is replicated with (its {@code peer} label); {@code
   * nToOnePeers}: on an N:1 standby every primary site (the link's series are then per peer), else
   * empty.
   */
  public SiteMetrics(
      Supplier<SiteStatus> status,
      String siteId,
      String role,
      Function<String, String> peerOf,
      List<String> nToOnePeers,
      List<VolumeConfig> volumes) {
    this.status = status;
    this.siteId = siteId;
    this.peerOf = peerOf;
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    gc.bindTo(registry);
    String site = siteId;
    for (VolumeConfig vc : volumes) {
      String v = vc.name();
      Tags tags = Tags.of("site", site, "volume", v, "peer", peerOf.apply(v));
      volumeGauge(
          "kagami.replication.lag.bytes",
          "Bytes the other site still has to get (primary: not durable on the standby; standby: not applied)",
          tags,
          v,
          VolumeStatus::lagBytes);
      volumeGauge(
          "kagami.replication.lag.seconds",
          "Age of the oldest change the other site does not have yet",
          tags,
          v,
          VolumeStatus::lagSeconds);
      volumeGauge(
          "kagami.history.bytes",
          "Journal history kept for the other site (unacknowledged or unapplied changes)",
          tags,
          v,
          VolumeStatus::lagBytes);
      volumeGauge(
          "kagami.unsent.bytes",
          "Journaled bytes not yet sent to the standby (primary): history waiting for the link",
          tags,
          v,
          s -> s.historyBytes() == null ? Double.NaN : s.historyBytes());
      volumeGauge(
          "kagami.undo.bytes",
          "Before-images a standby keeps for drills and point-in-time promotion (retention)",
          tags,
          v,
          s -> s.recoverableFrom() == null ? 0 : s.recoverableFrom().undoBytes());
      volumeGauge(
          "kagami.drill.running",
          "1 while a DR drill's clone of the volume is exported",
          tags,
          v,
          s -> s.drill() == null ? 0 : 1);
      volumeGauge(
          "kagami.journal.last.seq",
          "Highest sequence number in the volume's journal",
          tags,
          v,
          VolumeStatus::lastJournaledSeq);
      volumeGauge(
          "kagami.rpo.at.risk.seconds",
          "Seconds of changes that would be lost if this site took over now: the replication lag; on a standby without its primary, at least the time since the last contact, growing until it returns",
          tags,
          v,
          VolumeStatus::lagSeconds);
      volumeGauge(
          "kagami.primary.last.seq",
          "Standby: the primary's last journaled seq as of its latest heartbeat (NaN before the first)",
          tags,
          v,
          s -> s.primary() == null ? Double.NaN : s.primary().lastJournaledSeq());
      volumeGauge(
          "kagami.primary.contact.age.seconds",
          "Standby: seconds since the primary's latest heartbeat (about 2 s at most while connected; NaN before the first)",
          tags,
          v,
          s -> s.primary() == null ? Double.NaN : s.primary().secondsSinceContact());
      volumeCounter(
          "kagami.verify.mismatches",
          "Standby: verification regions whose replica differed from the primary at the same point of the history (each is copied again)",
          tags,
          v,
          s -> s.verify() == null ? 0 : s.verify().mismatches());
      volumeCounter(
          "kagami.verify.checked.bytes",
          "Standby: region bytes verified against the primary at the same point of the history",
          tags,
          v,
          s -> s.verify() == null ? 0 : s.verify().bytesChecked());
      volumeGauge(
          "kagami.verify.last.pass.seq",
          "Standby: the seq of the last point of the last complete verification pass (every region matched; NaN before the first)",
          tags,
          v,
          s ->
              s.verify() == null || s.verify().lastPassSeq() == null
                  ? Double.NaN
                  : s.verify().lastPassSeq());
      volumeGauge(
          "kagami.verify.last.pass.timestamp.seconds",
          "Standby: when the last complete verification pass ended, Unix seconds (NaN before the first)",
          tags,
          v,
          s ->
              s.verify() == null || s.verify().lastPassAt() == null
                  ? Double.NaN
                  : java.time.Instant.parse(s.verify().lastPassAt()).getEpochSecond());
      volumeGauge(
          "kagami.verify.repair.pending",
          "Standby: 1 while a region verification found differing waits to be copied again (the replica is inconsistent)",
          tags,
          v,
          s -> s.verify() == null || s.verify().repairPending() == null ? 0 : 1);
      long capacity = vc.historyCapacityBytes();
      Gauge.builder("kagami.history.capacity.bytes", () -> capacity)
          .description(
              "Configured bound of the volume's journal history (volumes[].historyCapacity)")
          .tags(tags)
          .register(registry);
      volumeGauge(
          "kagami.resync.remaining.bytes",
          "Bytes of changed regions a resync still has to copy to the standby (0 when none is due)",
          tags,
          v,
          s -> s.resync() == null ? 0 : s.resync().remainingBytes());
      volumeGauge(
          "kagami.volume.disk.full",
          "1 while a filesystem the volume writes (journal, volume file, replica) is full: a primary refuses writes with ENOSPC, a standby waits; it resumes by itself once space returns",
          tags,
          v,
          s -> s.state() == VolumeState.DISK_FULL ? 1.0 : 0.0);
      for (VolumeState state : VolumeState.values()) {
        volumeGauge(
            "kagami.volume.state",
            "The volume's replication state: one series per state (label state), 1 for the current one",
            tags.and("state", state.label()),
            v,
            s -> s.state() == state ? 1.0 : 0.0);
      }
      // One series per role, 1 for the current one: a promotion turns standby into primary.
      for (String r : new String[] {"primary", "standby"}) {
        volumeGauge(
            "kagami.role",
            "The volume's role on this site: one series per role (label role), 1 for the current one",
            tags.and("role", r),
            v,
            s -> r.equals(s.role()) ? 1.0 : 0.0);
      }
    }
    if (nToOnePeers.isEmpty()) {
      linkMeters(Tags.of("site", site, "peer", peerOf.apply(volumes.getFirst().name())));
    } else {
      nToOneLinkMeters(site, nToOnePeers);
    }
    FunctionCounter.builder("kagami.wan.log.dropped.lines", this, m -> m.wanLogDropped.getAsLong())
        .description(
            "Log lines about WAN clients dropped by the per-address limit (32 lines, then 1 per 5 s"
                + " per client address)")
        .tags(Tags.of("site", site))
        .register(registry);
    failoverGauges(Tags.of("site", site));
    if (role.equals("primary")) {
      Tags link = Tags.of("site", site, "peer", peerOf.apply(volumes.getFirst().name()));
      Gauge.builder(
              "kagami.wan.bandwidth.bytes.per.second",
              this,
              m -> orNaN(linkOf(m).bandwidthBytesPerSecond()))
          .description("The WAN link's cap on wire bytes per second in force; 0 = unlimited")
          .tags(link)
          .register(registry);
      Gauge.builder(
              "kagami.wan.send.rate.bytes.per.second",
              this,
              m -> orNaN(linkOf(m).sendRateBytesPerSecond()))
          .description("Wire bytes per second sent over the last few seconds")
          .tags(link)
          .register(registry);
    }
  }

  /** The link's connection state and byte counters (a site with one peer). */
  private void linkMeters(Tags link) {
    Gauge.builder("kagami.wan.connected", this, m -> linkOf(m).connected() ? 1.0 : 0.0)
        .description("1 while the WAN link to the peer is up")
        .tags(link)
        .register(registry);
    FunctionCounter.builder("kagami.wan.sent.bytes", this, m -> linkOf(m).rawBytes())
        .description(
            "Replication bytes over the WAN: raw = journal entries, wire = bytes on the socket (after batch compression and TLS)")
        .tags(link.and("encoding", "raw"))
        .register(registry);
    FunctionCounter.builder("kagami.wan.sent.bytes", this, m -> linkOf(m).wireBytes())
        .tags(link.and("encoding", "wire"))
        .register(registry);
  }

  /**
   * An N:1 standby's link: connection state and raw bytes per primary site; wire bytes (TLS
   * records) are counted for all of them together, under {@code peer="*"}.
   */
  private void nToOneLinkMeters(String site, List<String> peers) {
    for (String p : peers) {
      Tags link = Tags.of("site", site, "peer", p);
      Gauge.builder("kagami.wan.connected", this, m -> peerOf(m, p, s -> s.connected() ? 1.0 : 0.0))
          .description("1 while the WAN link to the peer is up")
          .tags(link)
          .register(registry);
      FunctionCounter.builder(
              "kagami.wan.sent.bytes", this, m -> peerOf(m, p, s -> s.receivedBytes()))
          .description(
              "Replication bytes over the WAN: raw = journal entries, wire = bytes on the socket (after batch compression and TLS)")
          .tags(link.and("encoding", "raw"))
          .register(registry);
    }
    FunctionCounter.builder("kagami.wan.sent.bytes", this, m -> linkOf(m).wireBytes())
        .tags(Tags.of("site", site, "peer", "*", "encoding", "wire"))
        .register(registry);
  }

  private static double peerOf(SiteMetrics m, String peer, ToDoubleFunction<PeerStatus> f) {
    SiteStatus s = m.last;
    if (s == null || s.peers() == null) {
      return 0;
    }
    for (PeerStatus p : s.peers()) {
      if (p.siteId().equals(peer)) {
        return f.applyAsDouble(p);
      }
    }
    return 0;
  }

  private static final LinkStatus NO_LINK = new LinkStatus(false, null, null, 0, 0, null);

  /** Decisions of the failover controller, one {@code kagami_failover_decision} series each. */
  private static final String[] DECISIONS = {
    "stay", "self-fence", "step-down", "request-promotion", "fence", "promote", "suppressed"
  };

  /**
   * {@code kagami_failover_fenced}, {@code kagami_failover_term}, {@code
   * kagami_failover_maintenance} and {@code kagami_failover_decision{decision}} (1 for the current
   * one); NaN on a site without a {@code failover:} section.
   */
  private void failoverGauges(Tags site) {
    Gauge.builder("kagami.failover.fenced", this, m -> failoverOf(m, f -> f.fenced() ? 1.0 : 0.0))
        .description("1 while this primary may not acknowledge writes (self-fenced or deposed)")
        .tags(site)
        .register(registry);
    Gauge.builder("kagami.failover.term", this, m -> failoverOf(m, f -> f.term()))
        .description("The witness term this site holds or knows")
        .tags(site)
        .register(registry);
    Gauge.builder(
            "kagami.failover.maintenance",
            this,
            m -> failoverOf(m, f -> f.maintenance() ? 1.0 : 0.0))
        .description("1 while maintenance mode suppresses automatic failover")
        .tags(site)
        .register(registry);
    for (String d : DECISIONS) {
      Gauge.builder(
              "kagami.failover.decision",
              this,
              m -> failoverOf(m, f -> d.equals(f.decision()) ? 1.0 : 0.0))
          .description(
              "The failover controller's current decision: one series per decision, 1 for the current one")
          .tags(site.and("decision", d))
          .register(registry);
    }
  }

  private static double failoverOf(
      SiteMetrics m,
      java.util.function.ToDoubleFunction<io.kagami.site.failover.FailoverStatus> f) {
    SiteStatus s = m.last;
    return s == null || s.failover() == null ? Double.NaN : f.applyAsDouble(s.failover());
  }

  private static double orNaN(Number n) {
    return n == null ? Double.NaN : n.doubleValue();
  }

  private static LinkStatus linkOf(SiteMetrics m) {
    SiteStatus s = m.last;
    return s == null ? NO_LINK : s.link();
  }

  /**
   * {@code device} with each request counted and timed ({@code kagami_nbd_requests_total}, {@code
   * kagami_nbd_request_seconds}).
   */
  public BlockDevice metered(BlockDevice device, String site) {
    return new MeteredDevice(device, registry, Tags.of("site", site, "volume", device.name()));
  }

  /**
   * A timer for {@code volume}'s journal appends ({@code kagami_journal_append_seconds},
   * histogram): from a write entering the journal to its commit completing.
   */
  public AppendTimer journalAppendTimer(String volume) {
    Timer timer =
        Timer.builder("kagami.journal.append")
            .description(
                "Time from a change entering the journal to its commit (WAL write; WAL sync for FUA) completing")
            .tags(Tags.of("site", siteId, "volume", volume, "peer", peerOf.apply(volume)))
            .publishPercentileHistogram()
            // Appends take microseconds to tens of milliseconds; buckets outside that range are
            // noise.
            .minimumExpectedValue(Duration.ofNanos(10_000))
            .maximumExpectedValue(Duration.ofSeconds(10))
            .register(registry);
    return nanos -> timer.record(nanos, TimeUnit.NANOSECONDS);
  }

  private void volumeCounter(
      String name, String help, Tags tags, String volume, ToDoubleFunction<VolumeStatus> value) {
    FunctionCounter.builder(
            name,
            this,
            m -> {
              SiteStatus s = m.last;
              if (s == null) {
                return 0;
              }
              for (VolumeStatus v : s.volumes()) {
                if (v.name().equals(volume)) {
                  return value.applyAsDouble(v);
                }
              }
              return 0;
            })
        .description(help)
        .tags(tags)
        .register(registry);
  }

  private void volumeGauge(
      String name, String help, Tags tags, String volume, ToDoubleFunction<VolumeStatus> value) {
    Gauge.builder(
            name,
            this,
            m -> {
              SiteStatus s = m.last;
              if (s == null) {
                return Double.NaN;
              }
              for (VolumeStatus v : s.volumes()) {
                if (v.name().equals(volume)) {
                  return value.applyAsDouble(v);
                }
              }
              return Double.NaN;
            })
        .description(help)
        .tags(tags)
        .register(registry);
  }

  /**
   * Where {@code kagami_wan_log_dropped_lines_total} reads from: log lines about WAN clients
   * (refused handshakes, bad frames, connections closed before the handshake) dropped by the
   * per-address limit. 0 until the site wires it.
   */
  public void wanLogDropped(java.util.function.LongSupplier dropped) {
    wanLogDropped = dropped;
  }

  /** Held here (Micrometer keeps weak references): the recovery orchestrator's figures. */
  private volatile Supplier<java.util.Map<String, Integer>> recoveryServers = java.util.Map::of;

  private volatile java.util.function.LongSupplier lastDrillMillis = () -> -1;

  /**
   * The recovery orchestrator's servers by state ({@code kagami_recovery_servers{state}}) and when
   * a drill last proved a server bootable ({@code kagami_recovery_last_drill_timestamp_seconds}, 0:
   * never); {@code states} names every state the first supplier may count.
   */
  public void recovery(
      List<String> states,
      Supplier<java.util.Map<String, Integer>> servers,
      java.util.function.LongSupplier lastDrill) {
    recoveryServers = servers;
    lastDrillMillis = lastDrill;
    for (String state : states) {
      Gauge.builder(
              "kagami.recovery.servers",
              this,
              m -> m.recoveryServers.get().getOrDefault(state, 0).doubleValue())
          .description("Servers of the current recovery or drill run (kagami recover), by state")
          .tags(Tags.of("site", siteId, "state", state))
          .register(registry);
    }
    Gauge.builder(
            "kagami.recovery.last.drill.timestamp.seconds",
            this,
            m -> Math.max(0, m.lastDrillMillis.getAsLong()) / 1000.0)
        .description("When a recovery drill last proved a server bootable (0: never)")
        .tags(Tags.of("site", siteId))
        .register(registry);
  }

  /**
   * What the memory budget's shares use now (each a supplier read at scrape time): bytes of NBD
   * payloads with the devices, of the journal's tail caches, of RocksDB's memtables and block
   * cache, and how many times an NBD request waited for its share.
   */
  public record MemoryUse(
      java.util.function.LongSupplier nbdInFlight,
      java.util.function.LongSupplier nbdWaits,
      java.util.function.LongSupplier tailCache,
      java.util.function.LongSupplier rocks,
      java.util.function.LongSupplier volumeWrites,
      java.util.function.LongSupplier volumeWriteWaits) {}

  /** Held here: Micrometer keeps only a weak reference to a function meter's state object. */
  private volatile MemoryUse memoryUse;

  /**
   * Registers {@code kagami_memory_budget_bytes}, {@code kagami_memory_share_bytes{share}} (each
   * share's size), {@code kagami_memory_share_used_bytes{share}} and {@code
   * kagami_memory_share_waits_total{share}}.
   */
  public void memory(io.kagami.site.config.MemoryBudget budget, MemoryUse use) {
    memoryUse = use;
    Tags site = Tags.of("site", siteId);
    Gauge.builder("kagami.memory.budget.bytes", budget, b -> b.budgetBytes())
        .description("The site's memory budget (memory.budget)")
        .tags(site)
        .register(registry);
    java.util.Map<String, Long> shares = new java.util.LinkedHashMap<>();
    shares.put("heap", budget.heapBytes());
    shares.put("offheap", budget.directBytes());
    shares.put("nbd_in_flight", budget.nbdInFlightBytes());
    shares.put("rocksdb", budget.rocksBytes());
    shares.put("tail_cache", budget.tailCacheBytesPerVolume() * budget.volumes());
    shares.put("wan_window", (long) budget.wanWindowBytesPerVolume() * budget.volumes());
    shares.put("volume_writes", budget.volumeWriteBacklogBytes());
    for (java.util.Map.Entry<String, Long> e : shares.entrySet()) {
      long bytes = e.getValue();
      Gauge.builder("kagami.memory.share.bytes", budget, b -> bytes)
          .description("Size of one share of the memory budget (all volumes together)")
          .tags(site.and("share", e.getKey()))
          .baseUnit("bytes")
          .register(registry);
    }
    java.lang.management.MemoryMXBean heap =
        java.lang.management.ManagementFactory.getMemoryMXBean();
    usedGauge(site, "heap", m -> heap.getHeapMemoryUsage().getUsed());
    // Off the heap: Netty's direct memory, which on Java 25 it takes from malloc through the FFM
    // linker, so neither Native Memory Tracking nor the JDK's buffer pool sees it (Netty counts it
    // against -XX:MaxDirectMemorySize itself), and the JDK's direct buffers.
    java.lang.management.BufferPoolMXBean direct =
        java.lang.management.ManagementFactory.getPlatformMXBeans(
                java.lang.management.BufferPoolMXBean.class)
            .stream()
            .filter(p -> p.getName().equals("direct"))
            .findFirst()
            .orElse(null);
    usedGauge(
        site,
        "offheap",
        m ->
            Math.max(0, io.netty.util.internal.PlatformDependent.usedDirectMemory())
                + (direct == null ? 0 : Math.max(0, direct.getMemoryUsed())));
    usedGauge(site, "nbd_in_flight", m -> m.memoryUse.nbdInFlight().getAsLong());
    usedGauge(site, "rocksdb", m -> m.memoryUse.rocks().getAsLong());
    usedGauge(site, "tail_cache", m -> m.memoryUse.tailCache().getAsLong());
    usedGauge(site, "volume_writes", m -> m.memoryUse.volumeWrites().getAsLong());
    FunctionCounter.builder(
            "kagami.memory.share.waits", this, m -> m.memoryUse.nbdWaits().getAsLong())
        .description(
            "Times a writer was back-pressured because its share of the memory budget was full")
        .tags(site.and("share", "nbd_in_flight"))
        .register(registry);
    FunctionCounter.builder(
            "kagami.memory.share.waits", this, m -> m.memoryUse.volumeWriteWaits().getAsLong())
        .description(
            "Times a writer was back-pressured because its share of the memory budget was full")
        .tags(site.and("share", "volume_writes"))
        .register(registry);
  }

  private void usedGauge(Tags site, String share, ToDoubleFunction<SiteMetrics> used) {
    Gauge.builder("kagami.memory.share.used.bytes", this, used)
        .description("Bytes one share of the memory budget holds now")
        .tags(site.and("share", share))
        .baseUnit("bytes")
        .register(registry);
  }

  /** The Prometheus text exposition of every metric, from a fresh status snapshot. */
  public synchronized String scrape() {
    last = status.get();
    return registry.scrape();
  }

  @Override
  public void close() {
    gc.close();
    registry.close();
  }
}
