package io.kagami.site.config;

import java.util.Locale;

/**
 * When a primary acknowledges a write: on its own journal (async) or on the standby's too (sync).
 */
public enum ReplicationMode {
  ASYNC,
  SYNC;

  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
