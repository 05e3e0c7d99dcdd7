package io.kagami.site.config;

import java.util.List;

/** A configuration that cannot be used, with every problem found, each phrased for an operator. */
public final class ConfigException extends RuntimeException {
  private final List<String> problems;

  public ConfigException(String source, List<String> problems) {
    super(
        source
            + ": "
            + (problems.size() == 1
                ? problems.get(0)
                : problems.size() + " problems:\n  - " + String.join("\n  - ", problems)));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }
}
