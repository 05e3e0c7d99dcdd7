package io.kagami.site;

import java.time.DateTimeException;
import java.time.Instant;
import java.time.InstantSource;
import java.time.OffsetDateTime;

/** Points in time as operators give them to {@code drill start --at} and {@code promote --at}. */
final class PointInTime {
  private PointInTime() {}

  /**
   * {@code 2026-01-01T10:00:00Z}, {@code 2026-01-01T19:00:00+09:00}, or an age: {@code 5m} (ago),
   * with the forms of durations ({@code 30s}, {@code 2h}).
   */
  static Instant parseOrNull(String text, InstantSource clock) {
    return text == null ? null : parse(text, clock);
  }

  /** As {@link #parseOrNull}, for a given text. */
  static Instant parse(String text, InstantSource clock) {
    String t = text.strip();
    try {
      return Instant.parse(t);
    } catch (DateTimeException e) {
      // try the other forms
    }
    try {
      return OffsetDateTime.parse(t).toInstant();
    } catch (DateTimeException e) {
      // try the other forms
    }
    try {
      String age = t.endsWith(" ago") ? t.substring(0, t.length() - 4) : t;
      return clock.instant().minus(io.kagami.site.config.Durations.parse(age));
    } catch (IllegalArgumentException e) {
      throw new Promotion.RefusedException(
          "\""
              + text
              + "\" is not a point in time (examples: 2026-01-01T10:00:00Z, 2026-01-01T19:00:00+09:00, or an age such as 5m)");
    }
  }
}
