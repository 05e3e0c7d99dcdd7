package io.kagami.site.cli;

import io.kagami.clock.SystemTime;
import io.kagami.site.Site;
import io.kagami.site.config.ConfigCheck;
import io.kagami.site.config.ConfigLoader;
import io.kagami.site.config.ConfigProblem;
import io.kagami.site.config.SiteConfig;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code kagami run --config site.yaml}: runs one site in the foreground until SIGINT/SIGTERM.
 * Before anything starts, the configuration is checked whole against the machine as {@code kagami
 * config check} does; with any problem it lists them all and exits 2, having bound no port and
 * created or written nothing. It exits {@value #EXIT_RESTART} when the site meets a fault only a
 * restart heals (a journal write that failed inside RocksDB), so that its supervisor starts it
 * again.
 */
@Command(
    name = "run",
    description = {
      "Run one site from its YAML configuration, in the foreground, until Ctrl-C or SIGTERM.",
      "It starts in the role its data directory records (after a promotion, switchover or failback), else in site.role.",
      "The configuration is first checked whole, as kagami config check does: with any problem, every one is listed (FILE: KEY: REASON) and it exits 2 having bound no port and created nothing."
    })
final class RunCommand implements Callable<Integer> {
  @Option(
      names = "--config",
      required = true,
      paramLabel = "FILE",
      description = "The site's YAML configuration.")
  Path config;

  /**
   * The exit status after a fault only a restart heals (EX_TEMPFAIL: try again): the data is safe,
   * the process must start afresh.
   */
  static final int EXIT_RESTART = 75;

  @Override
  public Integer call() throws InterruptedException {
    ConfigCheck check = ConfigLoader.check(config, true);
    for (ConfigProblem w : check.warnings()) {
      System.err.println("kagami: warning: " + w);
    }
    if (!check.ok()) {
      throw ConfigCommand.refusal(check, config, true);
    }
    SiteConfig cfg = check.config();
    String heap = cfg.memory().heapWarning(Runtime.getRuntime().maxMemory(), 1);
    if (heap != null) {
      System.err.println("kagami: warning: site " + cfg.siteId() + ": " + heap);
    }
    Site site = new Site(cfg, SystemTime.WALL);
    Foreground fg = new Foreground();
    fg.onStop(site::close);
    site.start();
    // The role it runs in, not site.role from the YAML: a promotion, switchover or failback
    // recorded in the data directory overrides the configuration.
    System.out.printf(
        "kagami: site %s (%s) running; nbd %s, admin %s://%s (admin token %s)%n",
        cfg.siteId(),
        site.status().role(),
        site.nbdAddress(),
        site.adminScheme(),
        site.adminAddress(),
        cfg.adminTokenFile());
    System.out.flush();
    site.fatal()
        .thenAccept(
            why -> {
              System.out.println(
                  "kagami: exiting with status "
                      + EXIT_RESTART
                      + ": "
                      + why
                      + "; a supervisor (the kagami@ systemd unit restarts on failure) starts the"
                      + " site again, which replays the journal; if a full disk caused it, free space"
                      + " on the journal's filesystem");
              System.out.flush();
              // Not on the thread that met the fault (the journal's committer, which the
              // shutdown closes and joins).
              Thread.ofPlatform().name("kagami-fatal-exit").start(() -> System.exit(EXIT_RESTART));
            });
    fg.awaitStop();
    return ExitCode.OK;
  }
}
