package io.kagami.site.config;

/**
 * One replicated volume: its export name, size, and how much journal history the primary may keep
 * for the standby ({@code historyCapacity}: reported as {@code kagami_history_capacity_bytes}; what
 * happens beyond it is the overflow policy's business).
 */
public record VolumeConfig(String name, long sizeBytes, long historyCapacityBytes) {
  public static final long MIN_SIZE = 1L << 20;
  public static final int ALIGNMENT = 4096;
  public static final long DEFAULT_HISTORY_CAPACITY = 8L << 30;
  public static final long MIN_HISTORY_CAPACITY = 1L << 20;

  /** A volume with the default history capacity (8 GiB). */
  public VolumeConfig(String name, long sizeBytes) {
    this(name, sizeBytes, DEFAULT_HISTORY_CAPACITY);
  }
}
