package io.kagami.site.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Typed reads of a configuration's YAML nodes for the section readers ({@link ConfigLoader}, {@link
 * WanSection}, {@link VolumesSection}): each read that fails adds a problem naming the key and what
 * is allowed, and returns a default, so every problem of a file is reported at once. Relative paths
 * resolve against {@code base}, the configuration file's directory. Not thread-safe: one per load.
 */
final class ConfigReader {
  private final List<String> problems;
  private final Path base;

  ConfigReader(List<String> problems, Path base) {
    this.problems = problems;
    this.base = base;
  }

  /** Notes a problem, e.g. {@code volume "db1": size 0 is not allowed (...)}. */
  void problem(String text) {
    problems.add(text);
  }

  void known(JsonNode node, String prefix, String... keys) {
    Set<String> allowed = Set.of(keys);
    for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!allowed.contains(k)) {
        problems.add(
            "unknown key " + prefix + k + " (allowed here: " + String.join(", ", keys) + ")");
      }
    }
  }

  JsonNode object(JsonNode parent, String key) {
    JsonNode n = parent.get(key);
    if (n == null || n.isNull()) {
      if (key.equals("site")) {
        problems.add("site is required, with id and role");
      }
      return JsonNodeFactory.instance.objectNode();
    }
    if (!n.isObject()) {
      problems.add(key + " must be a mapping");
      return JsonNodeFactory.instance.objectNode();
    }
    return n;
  }

  String text(JsonNode parent, String qualified, String dflt) {
    String key = qualified.substring(qualified.lastIndexOf('.') + 1);
    JsonNode n = parent.get(key);
    if (n == null || n.isNull()) {
      if (dflt == null && !qualified.startsWith("wan.")) {
        problems.add(qualified + " is required");
      }
      return dflt;
    }
    if (!n.isValueNode()) {
      problems.add(qualified + " must be a single value");
      return dflt;
    }
    return n.asText();
  }

  boolean bool(JsonNode parent, String qualified) {
    JsonNode n = parent.get(qualified.substring(qualified.lastIndexOf('.') + 1));
    if (!n.isBoolean()) {
      problems.add(qualified + " must be true or false");
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
      problems.add(qualified + ": " + e.getMessage());
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
