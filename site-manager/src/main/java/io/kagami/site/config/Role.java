package io.kagami.site.config;

/** What a site does with its volumes. */
public enum Role {
  /** Serves volumes read-write to hosts and ships every change to the standby. */
  PRIMARY,
  /** Receives changes, keeps the replica, serves it read-only. */
  STANDBY;

  public String label() {
    return name().toLowerCase(java.util.Locale.ROOT);
  }
}
