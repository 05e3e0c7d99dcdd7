package io.kagami.site.config;

/** One replicated volume: its export name and size. */
public record VolumeConfig(String name, long sizeBytes) {
  public static final long MIN_SIZE = 1L << 20;
  public static final int ALIGNMENT = 4096;
}
