package io.kagami.site.cli;

import io.kagami.site.config.ConfigCheck;
import io.kagami.site.config.ConfigLoader;
import io.kagami.site.config.ConfigProblem;
import io.kagami.site.config.SiteConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami config check --config FILE}: every problem of a site's configuration at once, each
 * as {@code FILE: KEY: REASON}, with the checks {@code kagami run} makes before it starts anything
 * (see {@link ConfigLoader#check}): for operators editing a file and for an appliance's first boot.
 * Creates and writes nothing; each listen port is bound for an instant to see it is free.
 */
@Command(
    name = "config",
    description = "Check a site's configuration before running it.",
    subcommands = ConfigCommand.Check.class)
final class ConfigCommand {
  @Command(
      name = "check",
      description = {
        "Check a site's YAML configuration as kagami run does before it starts, and list every problem at once as FILE: KEY: REASON.",
        "Checked: unknown keys (with the nearest allowed one), values and their units, listen addresses that clash, whether each listen port is free,"
            + " the data directory (a directory, or one that can be created), certificates and keys (PEM, matching, CN = site id), volume sizes against the filesystem.",
        "Nothing is created or written; each listen port is bound for an instant and released. Exit 0: the site can start; exit 2: it has problems, each listed."
      })
  static final class Check implements Callable<Integer> {
    @Option(
        names = "--config",
        required = true,
        paramLabel = "FILE",
        description = "The site's YAML configuration.")
    Path config;

    @Option(
        names = "--json",
        description =
            "Print {\"file\", \"ok\", \"problems\", \"warnings\"} as JSON, each problem as {\"file\", \"key\", \"reason\"};"
                + " with problems as {\"error\": {..., \"problems\": [...]}}.")
    boolean json;

    @Override
    public Integer call() {
      ConfigCheck check = ConfigLoader.check(config, true);
      if (json) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("file", config.toString());
        out.put("ok", check.ok());
        out.put("problems", asJson(check.problems()));
        out.put("warnings", asJson(check.warnings()));
        if (!check.ok()) {
          Map<String, Object> error = new LinkedHashMap<>();
          error.put("kind", CliError.kind(ExitCode.USAGE));
          error.put("exitCode", ExitCode.USAGE);
          error.put("message", summary(check));
          error.put("next", next(config));
          error.put("problems", out.get("problems"));
          error.put("warnings", out.get("warnings"));
          SiteVerb.printJson(Map.of("error", error));
          return ExitCode.USAGE;
        }
        SiteVerb.printJson(out);
        return ExitCode.OK;
      }
      for (ConfigProblem w : check.warnings()) {
        System.out.println("warning: " + w);
      }
      if (!check.ok()) {
        throw refusal(check, config, false);
      }
      SiteConfig c = check.config();
      System.out.printf(
          "%s: ok: site %s (%s), %d volume(s), nbd %s, admin %s%s; data directory %s%n",
          config,
          c.siteId(),
          c.role().name().toLowerCase(Locale.ROOT),
          c.volumes().size(),
          c.nbdListen(),
          c.adminListen(),
          c.wan().listen() == null ? "" : ", wan " + c.wan().listen(),
          c.dataDir());
      return ExitCode.OK;
    }

    private static List<Map<String, String>> asJson(List<ConfigProblem> problems) {
      return problems.stream()
          .map(
              p -> {
                Map<String, String> m = new LinkedHashMap<>();
                m.put("file", p.file());
                m.put("key", p.key());
                m.put("reason", p.reason());
                return m;
              })
          .toList();
    }
  }

  private static String summary(ConfigCheck check) {
    return check.problems().size() == 1
        ? check.problems().get(0).toString()
        : check.problems().get(0).file() + ": " + check.problems().size() + " problems";
  }

  private static String next(Path config) {
    return "fix each key named, then kagami config check --config " + config;
  }

  /**
   * The usage error {@code kagami run} ({@code started}: what it did not do) and {@code kagami
   * config check} end with when {@code check} found problems: a count, then each problem on its own
   * indented line as {@code FILE: KEY: REASON}, then what to do.
   */
  static CliError refusal(ConfigCheck check, Path config, boolean run) {
    int n = check.problems().size();
    StringBuilder b =
        new StringBuilder(config.toString())
            .append(": ")
            .append(n)
            .append(n == 1 ? " problem" : " problems")
            .append(run ? "; nothing was started, bound or created:" : ":");
    for (ConfigProblem p : check.problems()) {
      b.append("\n  ").append(p);
    }
    return CliError.usage(b.toString(), next(config));
  }
}
