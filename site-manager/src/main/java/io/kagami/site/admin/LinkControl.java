package io.kagami.site.admin;

/**
 * The operator's handle on the WAN link's bandwidth ({@code GET/PUT/DELETE /link}): the cap in
 * force, where it comes from, and a runtime override that wins over the configuration until
 * cleared.
 */
public interface LinkControl {

  LinkBandwidth bandwidth();

  /**
   * Overrides the configured cap with {@code bytesPerSecond} (0 = unlimited); null clears the
   * override.
   */
  LinkBandwidth override(Long bytesPerSecond);
}
