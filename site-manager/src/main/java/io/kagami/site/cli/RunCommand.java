package io.kagami.site.cli;

import io.kagami.clock.SystemTime;
import io.kagami.site.Site;
import io.kagami.site.config.ConfigLoader;
import io.kagami.site.config.SiteConfig;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kagami run --config site.yaml}: runs one site in the foreground until SIGINT/SIGTERM. */
@Command(name = "run", description = "Run one site from its YAML configuration, in the foreground.")
final class RunCommand implements Callable<Integer> {
  @Option(names = "--config", required = true, description = "the site's YAML configuration")
  Path config;

  @Override
  public Integer call() throws InterruptedException {
    SiteConfig cfg = ConfigLoader.load(config);
    Site site = new Site(cfg, SystemTime.WALL);
    Foreground fg = new Foreground();
    fg.onStop(site::close);
    site.start();
    System.out.printf("kagami: site %s (%s) running; nbd %s, admin http://%s (admin token %s)%n", cfg.siteId(), cfg.role().label(), site.nbdAddress(), site.adminAddress(), cfg.adminTokenFile());
    System.out.flush();
    fg.awaitStop();
    return 0;
  }
}
