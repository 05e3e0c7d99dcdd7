package io.kagami.site.link;

import io.kagami.site.admin.LinkBandwidth;
import io.kagami.site.admin.LinkControl;
import io.kagami.site.config.Bandwidth;
import io.kagami.site.config.BandwidthSchedule;
import java.lang.System.Logger.Level;
import java.time.InstantSource;
import java.util.OptionalLong;
import java.util.function.LongConsumer;

/**
 * Decides the WAN link's bandwidth cap and hands it to the shipper: a runtime override if an
 * operator set one, else the schedule window the current local time falls in, else {@code
 * wan.bandwidth}. {@link #refresh()} re-evaluates (the site calls it every second, so a window
 * starts within a second of its time) and passes the cap on only when it changed. Thread-safe.
 */
public final class BandwidthControl implements LinkControl {
  private static final System.Logger LOG = System.getLogger(BandwidthControl.class.getName());

  private final long configured;
  private final BandwidthSchedule schedule;
  private final InstantSource clock;
  private final LongConsumer shipper;
  private Long override; // guarded by this
  private long applied = -1; // guarded by this

  public BandwidthControl(
      long configured, BandwidthSchedule schedule, InstantSource clock, LongConsumer shipper) {
    this.configured = configured;
    this.schedule = schedule;
    this.clock = clock;
    this.shipper = shipper;
  }

  /** Applies the cap in force now if it differs from the one last applied. */
  public synchronized void refresh() {
    long rate = current().bandwidthBytesPerSecond();
    if (rate != applied) {
      applied = rate;
      shipper.accept(rate);
    }
  }

  @Override
  public synchronized LinkBandwidth bandwidth() {
    return current();
  }

  @Override
  public synchronized LinkBandwidth override(Long bytesPerSecond) {
    if (bytesPerSecond != null && bytesPerSecond < 0) {
      throw new IllegalArgumentException(
          "bandwidth " + bytesPerSecond + " B/s is negative (0 = unlimited)");
    }
    override = bytesPerSecond;
    LOG.log(
        Level.INFO,
        bytesPerSecond == null
            ? "WAN bandwidth override cleared; back to the configuration"
            : "WAN bandwidth overridden: " + Bandwidth.format(bytesPerSecond));
    refresh();
    return current();
  }

  private LinkBandwidth current() {
    OptionalLong window = schedule.rateAt(clock.instant());
    long rate;
    String source;
    if (override != null) {
      rate = override;
      source = "override";
    } else if (window.isPresent()) {
      rate = window.getAsLong();
      source = "schedule";
    } else {
      rate = configured;
      source = "config";
    }
    return new LinkBandwidth(
        rate,
        Bandwidth.format(rate),
        source,
        override,
        configured,
        schedule.isEmpty()
            ? null
            : schedule.windows().stream().map(BandwidthSchedule.Window::toString).toList(),
        schedule.isEmpty() ? null : schedule.zone().getId());
  }
}
