package io.kagami.site;

import java.time.Duration;
import java.time.InstantSource;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import java.util.function.Consumer;

/**
 * One structured log line per change of a site's mode, role, link or volume state, as key=value
 * fields a log shipper can parse without patterns:
 *
 * <pre>
 * event=state-change kind=link site=tokyo peer=hiroshima from=up to=down error="connection refused"
 * event=state-change kind=state site=tokyo volume=vol0 from=replicating to=buffering
 * </pre>
 *
 * <p>Rate-limited per subject (kind and the identifying fields): at most {@code burst} lines per
 * {@code window}; further changes in that window are counted, not logged, so a flapping link cannot
 * flood the log. Once the window has passed, {@link #flush()} (called on every housekeeping tick)
 * logs one summary line with the latest value and {@code suppressed=N}, so the log always ends with
 * the subject's true current value.
 *
 * <p>Thread-safe (synchronized; changes are rare by nature).
 */
final class StateChangeLog {
  static final int DEFAULT_BURST = 5;
  static final Duration DEFAULT_WINDOW = Duration.ofMinutes(1);

  private static final class Subject {
    final SequencedMap<String, String> fields;
    long windowStart;
    int logged;
    int suppressed;
    String suppressedFrom;
    String latestTo;
    Map<String, String> latestExtra = Map.of();

    Subject(SequencedMap<String, String> fields) {
      this.fields = fields;
    }
  }

  private final Consumer<String> sink;
  private final InstantSource clock;
  private final int burst;
  private final long windowMillis;
  private final Map<String, Subject> subjects = new HashMap<>();

  StateChangeLog(Consumer<String> sink, InstantSource clock, int burst, Duration window) {
    this.sink = sink;
    this.clock = clock;
    this.burst = burst;
    this.windowMillis = window.toMillis();
  }

  /**
   * Reports that {@code kind} of the subject named by {@code ids} (ordered, e.g. site, volume) went
   * from {@code from} to {@code to}; {@code extra} fields (e.g. the link's last error) go at the
   * end.
   */
  synchronized void changed(
      String kind,
      SequencedMap<String, String> ids,
      String from,
      String to,
      Map<String, String> extra) {
    String key = kind + ids;
    Subject s =
        subjects.computeIfAbsent(
            key,
            k -> {
              SequencedMap<String, String> f = new LinkedHashMap<>();
              f.put("event", "state-change");
              f.put("kind", kind);
              f.putAll(ids);
              return new Subject(f);
            });
    long now = clock.millis();
    if (now - s.windowStart >= windowMillis) {
      summarize(s);
      s.windowStart = now;
      s.logged = 0;
    }
    if (s.logged < burst) {
      s.logged++;
      emit(s, from, to, extra, 0);
      return;
    }
    if (s.suppressed == 0) {
      s.suppressedFrom = from;
    }
    s.suppressed++;
    s.latestTo = to;
    s.latestExtra = extra;
  }

  /** Logs a summary for every subject whose changes were suppressed and whose window has passed. */
  synchronized void flush() {
    long now = clock.millis();
    for (Subject s : subjects.values()) {
      if (s.suppressed > 0 && now - s.windowStart >= windowMillis) {
        summarize(s);
        s.windowStart = now;
        s.logged = 1;
      }
    }
  }

  private void summarize(Subject s) {
    if (s.suppressed > 0) {
      emit(s, s.suppressedFrom, s.latestTo, s.latestExtra, s.suppressed);
      s.suppressed = 0;
    }
  }

  private void emit(Subject s, String from, String to, Map<String, String> extra, int suppressed) {
    StringBuilder line = new StringBuilder();
    s.fields.forEach((k, v) -> field(line, k, v));
    field(line, "from", from);
    field(line, "to", to);
    if (suppressed > 0) {
      // from is the value before the first change not logged: the line spans all of them.
      field(line, "suppressed", Integer.toString(suppressed));
    }
    extra.forEach((k, v) -> field(line, k, v));
    sink.accept(line.toString());
  }

  private static void field(StringBuilder line, String key, String value) {
    if (!line.isEmpty()) {
      line.append(' ');
    }
    line.append(key).append('=');
    String v = value == null ? "none" : value;
    if (v.isEmpty() || v.chars().anyMatch(c -> c == ' ' || c == '"' || c == '=' || c < 0x20)) {
      line.append('"')
          .append(v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n"))
          .append('"');
    } else {
      line.append(v);
    }
  }
}
