package io.kagami.site.config;

import java.net.URI;
import java.util.List;
import java.util.Objects;

/**
 * {@code failover.witness: {etcd: [...], prefix: ...}}: the pair's lease lives in an etcd cluster
 * instead of the built-in witness.
 *
 * @param endpoints the members' client URLs ({@code http://host:port}), at least one; list every
 *     member so the site keeps reaching the cluster when one is down
 * @param prefix the key prefix: the group's lease is the key {@code prefix/group/holder} (bound to
 *     an etcd lease) and its term counter {@code prefix/group/term}
 */
public record EtcdWitnessSettings(List<URI> endpoints, String prefix) {
  public static final String DEFAULT_PREFIX = "/kagami";

  public EtcdWitnessSettings {
    endpoints = List.copyOf(endpoints);
    Objects.requireNonNull(prefix, "prefix");
    if (endpoints.isEmpty()) {
      throw new IllegalArgumentException("failover.witness.etcd needs at least one endpoint");
    }
  }

  @Override
  public String toString() {
    return "etcd " + String.join(",", endpoints.stream().map(URI::toString).toList()) + prefix;
  }
}
