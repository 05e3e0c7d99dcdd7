package io.kagami.site.config;

import java.util.List;

/**
 * A configuration that cannot be used, with every problem found, each naming the file, the key and
 * the reason (see {@link ConfigProblem}).
 */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient List<ConfigProblem> problems;

  /** Problems that concern the file as a whole (unreadable, not YAML): no key. */
  public ConfigException(String source, List<String> problems) {
    this(problems.stream().map(p -> new ConfigProblem(source, "", p)).toList());
  }

  public ConfigException(List<ConfigProblem> problems) {
    super(message(problems), null, false, false);
    this.problems = List.copyOf(problems);
  }

  private static String message(List<ConfigProblem> problems) {
    if (problems.size() == 1) {
      return problems.get(0).toString();
    }
    StringBuilder b =
        new StringBuilder(problems.get(0).file())
            .append(": ")
            .append(problems.size())
            .append(" problems:");
    for (ConfigProblem p : problems) {
      b.append("\n  ").append(p);
    }
    return b.toString();
  }

  /** Every problem, in the order found. */
  public List<ConfigProblem> problems() {
    return problems;
  }
}
