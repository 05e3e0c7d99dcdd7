package io.kagami.site.admin;

/**
 * {@code POST /promote?peer=NAME} on an N:1 standby: promotes only the volumes of primary {@code
 * peer}. Returns what to report, or throws {@link io.kagami.site.Promotion.RefusedException} with
 * the reason (answered 409, nothing changed).
 */
@FunctionalInterface
public interface PeerPromoteControl {
  /**
   * Promotes {@code peer}'s volumes, first rolled back to {@code seq} (of {@code volume}) or to
   * {@code at} when one is given (both null: from what they hold).
   */
  Object promote(String peer, boolean force, String volume, Long seq, String at);
}
