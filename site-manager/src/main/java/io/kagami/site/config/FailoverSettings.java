package io.kagami.site.config;

import io.kagami.failover.FailoverConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * The site's {@code failover:} section, validated by {@link ConfigLoader} (through {@link
 * FailoverSection}): the policy's settings plus where this site finds the witness and its peer's
 * second heartbeat path.
 *
 * @param policy timings, fence agent, monitors and the {@code automatic} switch (off by default)
 * @param witness the witness's HTTP address, or null (allowed only with automatic failover off)
 * @param group the lease id both sites of the pair use at the witness
 * @param peerAdmin the peer's admin HTTP address: the second heartbeat path ({@code POST
 *     /heartbeat}), or null for the WAN link alone (allowed only with automatic failover off)
 * @param monitorInterval how often each application monitor is probed
 * @param witnessToken the file holding the witness's token (the one given to {@code kagami witness
 *     --token-file}), or null when the witness asks for none
 * @param witnessCertificate PEM the witness must present (or its CA's) when it speaks TLS; null:
 *     plain HTTP (a loopback witness only)
 * @param peerAdminCertificate PEM the peer's admin port must present (or its CA's) when it speaks
 *     TLS (by default the peer's WAN certificate); null: plain HTTP (a loopback peer only)
 * @param etcdWitness the etcd cluster holding the lease instead of the built-in witness, or null;
 *     at most one of {@code witness} and {@code etcdWitness} is set
 */
public record FailoverSettings(
    FailoverConfig policy,
    HostPort witness,
    String group,
    HostPort peerAdmin,
    Duration monitorInterval,
    Path witnessToken,
    Path witnessCertificate,
    Path peerAdminCertificate,
    EtcdWitnessSettings etcdWitness) {
  /** The heartbeat path that is the WAN link itself (its state: connected or not). */
  public static final String PATH_WAN = "wan";

  /** The heartbeat path through the peer's admin HTTP endpoint. */
  public static final String PATH_ADMIN = "admin";

  public static final Duration DEFAULT_MONITOR_INTERVAL = Duration.ofSeconds(5);

  /**
   * A site's default silence before its peer counts as lost: 8 s rather than the policy module's 10
   * s, so a dead primary is detected within 10 s (the goal) including a check interval and a
   * heartbeat in flight. Still above {@code selfFenceAfter} (6 s); when the standby may actually
   * take over is bounded by the witness lease (10 s + margin), not by this.
   */
  public static final Duration DEFAULT_PEER_LOST_AFTER = Duration.ofSeconds(8);

  public FailoverSettings {
    Objects.requireNonNull(policy, "policy");
    Objects.requireNonNull(group, "group");
    Objects.requireNonNull(monitorInterval, "monitorInterval");
    if (witness != null && etcdWitness != null) {
      throw new IllegalArgumentException(
          "failover.witness names either the built-in witness (host:port) or an etcd cluster, not both");
    }
  }

  /** Settings without an etcd witness (the built-in witness, or none). */
  public FailoverSettings(
      FailoverConfig policy,
      HostPort witness,
      String group,
      HostPort peerAdmin,
      Duration monitorInterval,
      Path witnessToken,
      Path witnessCertificate,
      Path peerAdminCertificate) {
    this(
        policy,
        witness,
        group,
        peerAdmin,
        monitorInterval,
        witnessToken,
        witnessCertificate,
        peerAdminCertificate,
        null);
  }

  /** Whether any witness (built-in or etcd) is configured. */
  public boolean hasWitness() {
    return witness != null || etcdWitness != null;
  }

  /** Where the lease lives, for status and messages; null when no witness is configured. */
  public String witnessDescription() {
    return witness != null
        ? witness.toString()
        : etcdWitness != null ? etcdWitness.toString() : null;
  }

  public boolean automatic() {
    return policy.autoFailover();
  }

  /** The default lease id: the two site ids in order, so both sites name the pair alike. */
  public static String defaultGroup(String siteId, String peerSiteId) {
    return siteId.compareTo(peerSiteId) < 0 ? siteId + "+" + peerSiteId : peerSiteId + "+" + siteId;
  }
}
