package io.kagami.site.failover;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.kagami.failover.heartbeat.Heartbeat;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;

/**
 * A {@link Heartbeat} as JSON on the second heartbeat path: the body of {@code POST /heartbeat} on
 * a site's admin port and of its answer (the receiver's own heartbeat), so one request carries both
 * directions.
 *
 * <pre>
 * {"version":1, "siteId":"tokyo", "term":3, "primary":true, "plannedStop":false, "steppedDown":false,
 *  "sentAt":"2026-12-01T03:10:41.123456789Z", "echo":"2026-12-01T03:10:40.9Z", "lostAfterMillis":10000}
 * </pre>
 *
 * {@code sentAt} and {@code echo} are the clock of the site that sent the heartbeat being echoed;
 * they are never compared across sites.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record HeartbeatMessage(
    int version,
    String siteId,
    long term,
    boolean primary,
    boolean plannedStop,
    boolean steppedDown,
    String sentAt,
    String echo,
    long lostAfterMillis) {
  static final int VERSION = 1;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** {@code h} as the JSON body of a request or answer. */
  static byte[] encode(Heartbeat h) {
    try {
      return JSON.writeValueAsBytes(of(h));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The heartbeat in a JSON body; throws IllegalArgumentException for anything else. */
  static Heartbeat decode(byte[] body) {
    HeartbeatMessage m;
    try {
      m = JSON.readValue(body, HeartbeatMessage.class);
    } catch (IOException e) {
      throw new IllegalArgumentException("not a heartbeat: " + e.getMessage(), e);
    }
    if (m == null) {
      // A body of JSON null reads as no message at all: it was a NullPointerException and an
      // answer of 500 (found by AdminRequestFuzzTest).
      throw new IllegalArgumentException("not a heartbeat: the body is JSON null");
    }
    return m.toHeartbeat();
  }

  static HeartbeatMessage of(Heartbeat h) {
    return new HeartbeatMessage(
        VERSION,
        h.siteId(),
        h.term(),
        h.primary(),
        h.plannedStop(),
        h.steppedDown(),
        h.sentAt().toString(),
        h.echo() == null ? null : h.echo().toString(),
        h.lostAfter().toMillis());
  }

  /** The heartbeat; throws IllegalArgumentException for a malformed message. */
  Heartbeat toHeartbeat() {
    if (version != VERSION) {
      throw new IllegalArgumentException(
          "heartbeat version "
              + version
              + " is not supported (this site speaks version "
              + VERSION
              + ")");
    }
    if (siteId == null || sentAt == null || lostAfterMillis <= 0) {
      throw new IllegalArgumentException(
          "a heartbeat needs siteId, sentAt and a positive lostAfterMillis");
    }
    try {
      return new Heartbeat(
          siteId,
          term,
          primary,
          plannedStop,
          steppedDown,
          Instant.parse(sentAt),
          echo == null ? null : Instant.parse(echo),
          Duration.ofMillis(lostAfterMillis));
    } catch (java.time.format.DateTimeParseException e) {
      throw new IllegalArgumentException(
          "heartbeat time is not an ISO-8601 instant: " + e.getMessage(), e);
    }
  }
}
