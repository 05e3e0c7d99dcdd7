package io.kagami.site.admin;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * The body of {@code GET /link}: the cap in force and why.
 *
 * @param bandwidthBytesPerSecond the cap on wire bytes per second now; 0 = unlimited
 * @param bandwidth the same, for people ({@code 1500 KB/s (12.0 Mbit/s)} or {@code unlimited})
 * @param source {@code override} (set at run time), {@code schedule} (a {@code
 *     wan.bandwidthSchedule} window) or {@code config} ({@code wan.bandwidth})
 * @param overrideBytesPerSecond the runtime override, or null when none
 * @param configuredBytesPerSecond {@code wan.bandwidth}: the cap outside schedule windows
 * @param schedule the schedule windows, e.g. {@code 08:00-18:00 1500 KB/s (12.0 Mbit/s)}
 * @param timeZone the schedule's time zone
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record LinkBandwidth(
    long bandwidthBytesPerSecond,
    String bandwidth,
    String source,
    Long overrideBytesPerSecond,
    long configuredBytesPerSecond,
    List<String> schedule,
    String timeZone) {}
