package io.kagami.site.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import java.util.Set;

/**
 * Typed reads of a configuration's YAML nodes for the section readers ({@link ConfigLoader}, {@link
 * WanSection}, {@link VolumesSection}): each read that fails adds a problem naming the key and what
 * is allowed, and returns a default, so every problem of a file is reported at once. Relative paths
 * resolve against {@code base}, the configuration file's directory. Not thread-safe: one per load.
 */
final class ConfigReader {
  private final Problems problems;
  private final Path base;

  ConfigReader(Problems problems, Path base) {
    this.problems = problems;
    this.base = base;
  }

  /**
   * Notes a problem phrased as a sentence that starts with (or contains) its key, e.g. {@code
   * wan.peer is required on a primary}; see {@link Problems} for how the key is found.
   */
  void problem(String text) {
    problems.add(text);
  }

  /** Notes a problem with {@code key}, e.g. {@code volumes[0].size}. */
  void problem(String key, String reason) {
    problems.add(key, reason);
  }

  /** Notes something the operator should see that does not stop the site from starting. */
  void warn(String key, String reason) {
    problems.warn(key, reason);
  }

  /**
   * Reports each key of {@code node} that is not one of {@code keys}, with the allowed keys and the
   * nearest one ("did you mean"); {@code prefix} "" marks the top level.
   */
  void known(JsonNode node, String prefix, String... keys) {
    if (prefix.isEmpty()) {
      problems.topLevel(keys);
    }
    Set<String> allowed = Set.of(keys);
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!allowed.contains(k)) {
        String near = nearest(k, keys);
        problems.add(
            prefix + k,
            "unknown key "
                + prefix
                + k
                + (near == null ? "" : "; did you mean " + prefix + near + "?")
                + " (allowed here: "
                + String.join(", ", keys)
                + ")");
      }
    }
  }

  /**
   * The allowed key {@code k} was most likely meant to be: same letters ignoring case, or at most
   * two edits away (a third of its length for short keys); null when none is that close.
   */
  static String nearest(String k, String... keys) {
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String key : keys) {
      int d =
          key.equalsIgnoreCase(k)
              ? 0
              : distance(k.toLowerCase(Locale.ROOT), key.toLowerCase(Locale.ROOT));
      if (d < bestDistance) {
        best = key;
        bestDistance = d;
      }
    }
    return bestDistance <= Math.min(2, Math.max(1, k.length() / 3)) ? best : null;
  }

  /** Levenshtein distance: insertions, deletions and substitutions. */
  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  JsonNode object(JsonNode parent, String key) {
    JsonNode n = parent.get(key);
    if (n == null || n.isNull()) {
      if (key.equals("site")) {
        problems.add("site", "site is required, with id and role");
      }
      return JsonNodeFactory.instance.objectNode();
    }
    if (!n.isObject()) {
      problems.add(key, key + " must be a mapping");
      return JsonNodeFactory.instance.objectNode();
    }
    return n;
  }

  String text(JsonNode parent, String qualified, String dflt) {
    String key = qualified.substring(qualified.lastIndexOf('.') + 1);
    JsonNode n = parent.get(key);
    if (n == null || n.isNull()) {
      if (dflt == null && !qualified.startsWith("wan.")) {
        problems.add(qualified, qualified + " is required");
      }
      return dflt;
    }
    if (!n.isValueNode()) {
      problems.add(qualified, qualified + " must be a single value");
      return dflt;
    }
    return n.asText();
  }

  boolean bool(JsonNode parent, String qualified) {
    JsonNode n = parent.get(qualified.substring(qualified.lastIndexOf('.') + 1));
    if (!n.isBoolean()) {
      problems.add(qualified, qualified + " must be true or false");
      return true;
    }
    return n.booleanValue();
  }

  HostPort address(JsonNode parent, String qualified, String dflt) {
    String key = qualified.substring(qualified.lastIndexOf('.') + 1);
    JsonNode n = parent.get(key);
    String t = n == null || n.isNull() ? dflt : n.asText();
    if (t == null) {
      return null;
    }
    try {
      return HostPort.parse(t);
    } catch (IllegalArgumentException e) {
      problems.add(qualified, qualified + ": " + e.getMessage());
      return null;
    }
  }

  Path path(JsonNode parent, String qualified) {
    String key = qualified.substring(qualified.lastIndexOf('.') + 1);
    JsonNode n = parent.get(key);
    if (n == null || n.isNull()) {
      return null;
    }
    return base.resolve(n.asText()).normalize();
  }
}
