package io.kagami.site.config;

import java.util.Locale;

/**
 * A link rate as operators write it: a {@link DataSize} per second, with an optional {@code /s}:
 * {@code 1500KB}, {@code 1500KB/s}, {@code 12MB/s}, {@code 2MiB}; {@code 0} or {@code unlimited}
 * for no cap. As in {@link DataSize}, KB/MB/GB are decimal (1 KB = 1000 bytes, the unit link speeds
 * are sold in: 1500 KB/s = 12 Mbit/s) and KiB/MiB/GiB binary.
 */
public final class Bandwidth {
  private Bandwidth() {}

  /** Bytes per second; 0 = unlimited. */
  public static long parse(String text) {
    String t = text == null ? "" : text.strip();
    if (t.equalsIgnoreCase("unlimited") || t.equalsIgnoreCase("none")) {
      return 0;
    }
    if (t.toLowerCase(Locale.ROOT).endsWith("/s")) {
      t = t.substring(0, t.length() - 2);
    }
    try {
      return DataSize.parse(t).bytes();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "\"" + text + "\" is not a rate (examples: 1500KB, 12MB/s, 2MiB/s, unlimited)");
    }
  }

  /** {@code 1500 KB/s (12.0 Mbit/s)}, or {@code unlimited}. */
  public static String format(long bytesPerSecond) {
    if (bytesPerSecond == 0) {
      return "unlimited";
    }
    String mbit = String.format(Locale.ROOT, "%.1f Mbit/s", bytesPerSecond * 8 / 1e6);
    if (bytesPerSecond % 1000_000 == 0) {
      return bytesPerSecond / 1000_000 + " MB/s (" + mbit + ")";
    }
    if (bytesPerSecond % 1000 == 0) {
      return bytesPerSecond / 1000 + " KB/s (" + mbit + ")";
    }
    return bytesPerSecond + " B/s (" + mbit + ")";
  }
}
