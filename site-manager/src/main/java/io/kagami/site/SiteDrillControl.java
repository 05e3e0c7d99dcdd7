package io.kagami.site;

import io.kagami.site.admin.DrillControl;
import io.kagami.site.admin.SiteStatus;
import io.kagami.site.admin.VolumeStatus;
import io.kagami.site.config.Role;
import io.kagami.site.config.SiteConfig;
import java.time.InstantSource;
import java.util.Map;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * The admin surface's drills and point-in-time promotion ({@code /drill}, {@code /promote --seq /
 * --at}): parses the operator's time, refuses drills on a primary, and hands on to {@link Drills}
 * and {@link StandbyPromoter}. Runs on the admin HTTP thread; blocks as those do.
 */
final class SiteDrillControl implements DrillControl {
  private final SiteConfig config;
  private final InstantSource clock;
  private final Peer peer;
  private final Drills drills;
  private final StandbyPromoter promoter;
  private final Supplier<SiteStatus> status;
  private final IntSupplier nbdPort;

  SiteDrillControl(
      SiteConfig config,
      InstantSource clock,
      Peer peer,
      Drills drills,
      StandbyPromoter promoter,
      Supplier<SiteStatus> status,
      IntSupplier nbdPort) {
    this.config = config;
    this.clock = clock;
    this.peer = peer;
    this.drills = drills;
    this.promoter = promoter;
    this.status = status;
    this.nbdPort = nbdPort;
  }

  @Override
  public Object start(String volume, Long seq, String at) {
    if (peer.role() == Role.PRIMARY) {
      throw new Promotion.RefusedException(
          "site "
              + config.siteId()
              + " is a primary: a drill runs on a standby, on a clone of its replica (run drill start against the standby's --admin)");
    }
    Drills.Started s = drills.start(volume, seq, at == null ? null : PointInTime.parse(at, clock));
    String uri =
        "nbd://"
            + SiteStatusView.uriHost(config.nbdListen())
            + ":"
            + nbdPort.getAsInt()
            + "/"
            + s.export();
    return Map.of(
        "volume",
        s.volume(),
        "export",
        s.export(),
        "seq",
        s.seq(),
        "appliedSeq",
        s.appliedSeq(),
        "uri",
        uri);
  }

  @Override
  public Object stop(String volume) {
    return drills.stop(volume);
  }

  @Override
  public Object list() {
    return status.get().volumes().stream()
        .filter(v -> v.drill() != null)
        .map(VolumeStatus::drill)
        .toList();
  }

  @Override
  public Object promoteAt(boolean force, String volume, Long seq, String at) {
    return promoter.promoteAt(force, volume, seq, at == null ? null : PointInTime.parse(at, clock));
  }
}
