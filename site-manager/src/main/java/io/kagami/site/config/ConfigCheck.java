package io.kagami.site.config;

import java.util.List;

/**
 * The outcome of checking a configuration ({@link ConfigLoader#check}): the configuration when it
 * has no problem (else null), every problem, and warnings that do not stop a site from starting.
 */
public record ConfigCheck(
    SiteConfig config, List<ConfigProblem> problems, List<ConfigProblem> warnings) {
  public ConfigCheck {
    problems = List.copyOf(problems);
    warnings = List.copyOf(warnings);
  }

  public boolean ok() {
    return problems.isEmpty();
  }

  /** The configuration, or a {@link ConfigException} with every problem. */
  public SiteConfig orThrow() {
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
    return config;
  }
}
