package io.kagami.site.cli;

import io.kagami.clock.SystemTime;
import io.kagami.site.Promotion;
import io.kagami.site.Site;
import io.kagami.site.config.ConfigLoader;
import io.kagami.site.config.SiteConfig;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code kagami failback --config FILE}: marks a stopped old primary's data directory so that it
 * starts as the standby. Apart from {@link FailbackCommand} so that no other verb loads the site's
 * classes.
 */
final class OfflineFailback {
  private OfflineFailback() {}

  static int mark(Path config, boolean json) {
    SiteConfig cfg = ConfigLoader.load(config);
    if (AdminClient.listens(cfg.adminListen())) {
      throw CliError.refused(
          "site "
              + cfg.siteId()
              + " is running (its admin address "
              + cfg.adminListen()
              + " takes connections)",
          "fail it back while it runs: kagami failback --admin " + cfg.adminListen());
    }
    String done;
    try {
      done = Site.markForFailback(cfg, SystemTime.WALL);
    } catch (Promotion.RefusedException e) {
      throw CliError.refused(e.getMessage(), "nothing changed");
    }
    String next = "start it with kagami run --config " + config;
    if (json) {
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("site", cfg.siteId());
      out.put("role", "standby");
      out.put("done", done);
      out.put("next", next);
      SiteVerb.printJson(out);
    } else {
      System.out.println("kagami: " + done + "; " + next);
    }
    return ExitCode.OK;
  }
}
