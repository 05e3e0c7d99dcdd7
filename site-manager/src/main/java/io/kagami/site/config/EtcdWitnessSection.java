package io.kagami.site.config;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads {@code failover.witness} when it names an etcd cluster rather than the built-in witness,
 * for {@link FailoverSection}, adding every problem to the loader's list:
 *
 * <pre>
 * failover:
 *   witness:
 *     etcd: ["http://10.0.0.1:2379", "http://10.0.0.2:2379", "http://10.0.0.3:2379"]  # every member
 *     prefix: /kagami          # default; the pair's keys are PREFIX/GROUP/{holder,term,released}
 * </pre>
 */
final class EtcdWitnessSection {
  private final List<String> problems;

  EtcdWitnessSection(List<String> problems) {
    this.problems = problems;
  }

  /**
   * {@code failover.witness: {etcd: [http://host:port, ...], prefix: /kagami}}, or null (with a
   * problem added) when wrong.
   */
  EtcdWitnessSettings parse(JsonNode w) {
    int before = problems.size();
    FailoverSection.known(problems, w, "failover.witness.", "etcd", "prefix");
    JsonNode list = w.get("etcd");
    List<URI> endpoints = new ArrayList<>();
    if (list == null || list.isNull()) {
      problems.add(
          "failover.witness.etcd is required in a witness mapping: the etcd members' client URLs, e.g. [\"http://10.0.0.1:2379\", \"http://10.0.0.2:2379\", \"http://10.0.0.3:2379\"]");
    } else if (!list.isArray() || list.isEmpty()) {
      problems.add(
          "failover.witness.etcd must be a non-empty list of the etcd members' client URLs (http://host:port), every member of the cluster");
    } else {
      for (int i = 0; i < list.size(); i++) {
        JsonNode e = list.get(i);
        String at = "failover.witness.etcd[" + i + "]";
        if (!e.isTextual()) {
          problems.add(at + " must be a URL, http://host:port");
          continue;
        }
        URI u = etcdEndpoint(at, e.asText().strip());
        if (u == null) {
          continue;
        }
        if (endpoints.contains(u)) {
          problems.add(at + " " + u + " is listed twice");
          continue;
        }
        endpoints.add(u);
      }
    }
    String prefix = EtcdWitnessSettings.DEFAULT_PREFIX;
    if (w.has("prefix")) {
      String p = FailoverSection.text(w, "prefix");
      if (p == null
          || !p.startsWith("/")
          || p.length() < 2
          || p.endsWith("/")
          || p.matches(".*\\s.*")) {
        problems.add(
            "failover.witness.prefix "
                + (p == null ? w.get("prefix").toString() : "\"" + p + "\"")
                + " must be an etcd key path starting with / and not ending with /, without spaces (default "
                + EtcdWitnessSettings.DEFAULT_PREFIX
                + "); both sites of a pair must name the same one");
      } else {
        prefix = p;
      }
    }
    if (problems.size() > before) {
      return null;
    }
    return new EtcdWitnessSettings(endpoints, prefix);
  }

  /** One etcd member's client URL, {@code http://host:port}; null (with a problem) when wrong. */
  private URI etcdEndpoint(String at, String text) {
    String lower = text.toLowerCase(Locale.ROOT);
    if (lower.startsWith("https://")) {
      problems.add(
          at
              + " "
              + text
              + ": TLS to etcd is not supported yet; use http:// on a network only the sites and the etcd members reach");
      return null;
    }
    if (!lower.startsWith("http://")) {
      problems.add(at + " " + text + " must be written http://host:port (an etcd client URL)");
      return null;
    }
    String bare = text.substring(7);
    if (bare.endsWith("/")) {
      bare = bare.substring(0, bare.length() - 1);
    }
    try {
      HostPort hp = HostPort.parse(bare);
      return URI.create("http://" + hp);
    } catch (IllegalArgumentException e) {
      problems.add(at + " " + text + ": " + e.getMessage());
      return null;
    }
  }
}
