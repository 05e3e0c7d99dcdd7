package io.kagami.site.config;

import io.kagami.replicator.history.History;
import io.kagami.replicator.sync.SyncReplication;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * One replicated volume: its export name, size and replication mode — or a <em>consistency
 * group</em>: a replicated volume whose {@code members} are exported on their own (each a window of
 * it), so all of them share one write order and recover together.
 *
 * @param sync what sync mode does when the standby stops confirming (used in sync mode only)
 * @param historyCapacityBytes unsent history the journal keeps before the volume falls back to
 *     tracking changed regions (and a later resync)
 * @param bitmapGranularity bytes one bit of the changed-region map stands for
 * @param retention how much history a standby keeps for drills and point-in-time promotion ({@code
 *     retention}, {@code retentionMaxBytes}; none by default)
 * @param members a group's exports, in order, laid out one after the other; empty for a plain
 *     volume (exported under its own name)
 */
public record VolumeConfig(
    String name,
    long sizeBytes,
    ReplicationMode mode,
    SyncReplication.Policy sync,
    long historyCapacityBytes,
    int bitmapGranularity,
    History.Retention retention,
    List<Member> members) {

  /** A consistency group's member: exported as {@code name}, at {@code offset} of the group. */
  public record Member(String name, long offset, long sizeBytes) {}

  public static final long MIN_SIZE = 1L << 20;
  public static final int ALIGNMENT = 4096;
  public static final long DEFAULT_HISTORY_CAPACITY = 8L << 30;
  public static final long MIN_HISTORY_CAPACITY = 1L << 20;
  public static final int DEFAULT_BITMAP_GRANULARITY = 64 << 10;
  public static final SyncReplication.Policy DEFAULT_SYNC_POLICY =
      new SyncReplication.Policy(Duration.ofSeconds(10), SyncReplication.OnTimeout.DEGRADE);

  public VolumeConfig {
    Objects.requireNonNull(mode, "mode");
    Objects.requireNonNull(sync, "sync");
    Objects.requireNonNull(retention, "retention");
    members = List.copyOf(members);
  }

  /** A volume that keeps no history on a standby. */
  public VolumeConfig(
      String name,
      long sizeBytes,
      ReplicationMode mode,
      SyncReplication.Policy sync,
      long historyCapacityBytes,
      int bitmapGranularity) {
    this(
        name,
        sizeBytes,
        mode,
        sync,
        historyCapacityBytes,
        bitmapGranularity,
        History.Retention.NONE,
        List.of());
  }

  /** A plain volume (not a consistency group). */
  public VolumeConfig(
      String name,
      long sizeBytes,
      ReplicationMode mode,
      SyncReplication.Policy sync,
      long historyCapacityBytes,
      int bitmapGranularity,
      History.Retention retention) {
    this(
        name, sizeBytes, mode, sync, historyCapacityBytes, bitmapGranularity, retention, List.of());
  }

  /** True for a consistency group (its members are exported, not the group itself). */
  public boolean group() {
    return !members.isEmpty();
  }

  /** An async volume with the given history capacity and the default bitmap granularity. */
  public VolumeConfig(String name, long sizeBytes, long historyCapacityBytes) {
    this(
        name,
        sizeBytes,
        ReplicationMode.ASYNC,
        DEFAULT_SYNC_POLICY,
        historyCapacityBytes,
        DEFAULT_BITMAP_GRANULARITY);
  }

  /** An async volume with default history capacity and bitmap granularity. */
  public VolumeConfig(String name, long sizeBytes) {
    this(
        name,
        sizeBytes,
        ReplicationMode.ASYNC,
        DEFAULT_SYNC_POLICY,
        DEFAULT_HISTORY_CAPACITY,
        DEFAULT_BITMAP_GRANULARITY);
  }
}
