package io.kagami.site.config;

import java.time.LocalTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.OptionalLong;

/**
 * Time-of-day bandwidth caps for the WAN link ({@code wan.bandwidthSchedule}), in a configured time
 * zone. A window runs from {@code from} (inclusive) to {@code to} (exclusive); {@code to} before
 * {@code from} wraps past midnight (22:00–06:00). Windows never overlap (the loader rejects it), so
 * at most one applies; outside every window {@code wan.bandwidth} does.
 */
public record BandwidthSchedule(List<Window> windows, ZoneId zone) {
  public static final BandwidthSchedule NONE = new BandwidthSchedule(List.of(), ZoneId.of("UTC"));

  public BandwidthSchedule {
    windows = List.copyOf(windows);
  }

  /** One window; {@code rate} in bytes per second, 0 = unlimited. */
  public record Window(LocalTime from, LocalTime to, long rate) {
    boolean contains(LocalTime t) {
      return from.isBefore(to)
          ? !t.isBefore(from) && t.isBefore(to)
          : !t.isBefore(from) || t.isBefore(to);
    }

    @Override
    public String toString() {
      return from + "-" + to + " " + Bandwidth.format(rate);
    }
  }

  /** The cap of the window {@code at} falls in, or empty outside every window. */
  public OptionalLong rateAt(java.time.Instant at) {
    LocalTime t = ZonedDateTime.ofInstant(at, zone).toLocalTime();
    for (Window w : windows) {
      if (w.contains(t)) {
        return OptionalLong.of(w.rate());
      }
    }
    return OptionalLong.empty();
  }

  public boolean isEmpty() {
    return windows.isEmpty();
  }
}
