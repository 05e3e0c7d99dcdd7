package io.kagami.testkit.toxi;

import java.util.List;
import java.util.Locale;

/**
 * The toxics this proxy implements, with the attribute names Toxiproxy uses (all integers; times in
 * milliseconds except the slicer's {@code delay}, which is in microseconds; rates in KB/s with 1 KB
 * = 1000 bytes, as in Toxiproxy).
 */
enum ToxicType {
  /** Delays every chunk by {@code latency} ± {@code jitter} ms, measured from its arrival. */
  LATENCY("latency", "jitter"),
  /** Passes at most {@code rate} KB/s, in pieces of at most 100 ms worth. */
  BANDWIDTH("rate"),
  /** Holds the close of the connection for {@code delay} ms after the data stream ends. */
  SLOW_CLOSE("delay"),
  /** Drops all data; closes the connection after {@code timeout} ms (0: never, until removed). */
  TIMEOUT("timeout"),
  /** On the first data, waits {@code timeout} ms, then resets both sides (RST, SO_LINGER 0). */
  RESET_PEER("timeout"),
  /**
   * Cuts chunks into pieces of {@code average_size} ± {@code size_variation}, {@code delay} µs
   * apart.
   */
  SLICER("average_size", "size_variation", "delay"),
  /** Passes {@code bytes} bytes, then closes the connection. */
  LIMIT_DATA("bytes");

  private final List<String> attributes;

  ToxicType(String... attributes) {
    this.attributes = List.of(attributes);
  }

  /** Attribute names, in the order Toxiproxy lists them. */
  List<String> attributes() {
    return attributes;
  }

  String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  static ToxicType parse(String value) throws ApiException {
    for (ToxicType type : values()) {
      if (type.wireName().equals(value)) {
        return type;
      }
    }
    throw ApiException.badRequest(
        "invalid toxic type \""
            + value
            + "\" (supported: latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data)");
  }
}
