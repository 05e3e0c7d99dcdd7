package io.kagami.site.admin;

/**
 * What the admin surface asks of a site for DR drills and point-in-time promotion. Each call
 * returns what to report (serialized as JSON) or throws {@link
 * io.kagami.site.Promotion.RefusedException} with the reason (HTTP 409).
 */
public interface DrillControl {
  /**
   * Starts a drill of {@code volume} at {@code seq}, at {@code at} (ISO-8601), or now (both null).
   */
  Object start(String volume, Long seq, String at);

  /** Stops the drill of {@code volume}, discarding its clone. */
  Object stop(String volume);

  /** Running drills and each volume's recoverable window. */
  Object list();

  /**
   * Promotes after rolling {@code volume} (null: every volume) back to {@code seq} or {@code at}.
   */
  Object promoteAt(boolean force, String volume, Long seq, String at);
}
