package io.kagami.site.config;

import io.kagami.replicator.sync.SyncReplication;
import java.time.Duration;
import java.util.Objects;

/**
 * One replicated volume: its export name, size and replication mode.
 *
 * @param sync what sync mode does when the standby stops confirming (used in sync mode only)
 */
public record VolumeConfig(String name, long sizeBytes, ReplicationMode mode, SyncReplication.Policy sync) {
  public static final long MIN_SIZE = 1L << 20;
  public static final int ALIGNMENT = 4096;
  public static final SyncReplication.Policy DEFAULT_SYNC_POLICY = new SyncReplication.Policy(Duration.ofSeconds(10), SyncReplication.OnTimeout.DEGRADE);

  public VolumeConfig {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(sync, "sync");
  }

  /** An async volume. */
  public VolumeConfig(String name, long sizeBytes) {
    this(name, sizeBytes, ReplicationMode.ASYNC, DEFAULT_SYNC_POLICY);
  }
}
