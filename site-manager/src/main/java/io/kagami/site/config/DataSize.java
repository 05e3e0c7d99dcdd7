package io.kagami.site.config;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A number of bytes as operators write it: {@code 4096}, {@code 512KiB}, {@code 1GiB}, {@code
 * 1500KB} (KB/MB/GB are decimal, KiB/MiB/GiB binary).
 */
public record DataSize(long bytes) {
  private static final Pattern FORM = Pattern.compile("\\s*(\\d+)\\s*([a-zA-Z]*)\\s*");

  public DataSize {
    if (bytes < 0) {
      throw new IllegalArgumentException("a size cannot be negative: " + bytes);
    }
  }

  public static DataSize parse(String text) {
    Matcher m = FORM.matcher(text == null ? "" : text);
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "\"" + text + "\" is not a size (examples: 4096, 64MiB, 1GiB, 1500KB)");
    }
    long n;
    try {
      n = Long.parseLong(m.group(1));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("\"" + text + "\" is too large a size");
    }
    long unit =
        switch (m.group(2).toLowerCase(Locale.ROOT)) {
          case "", "b" -> 1;
          case "k", "kib" -> 1L << 10;
          case "m", "mib" -> 1L << 20;
          case "g", "gib" -> 1L << 30;
          case "t", "tib" -> 1L << 40;
          case "kb" -> 1000;
          case "mb" -> 1000_000;
          case "gb" -> 1000_000_000;
          case "tb" -> 1000_000_000_000L;
          default ->
              throw new IllegalArgumentException(
                  "\""
                      + text
                      + "\": unknown unit \""
                      + m.group(2)
                      + "\" (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
        };
    try {
      return new DataSize(Math.multiplyExact(n, unit));
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException("\"" + text + "\" is too large a size");
    }
  }

  @Override
  public String toString() {
    if (bytes % (1L << 30) == 0 && bytes > 0) {
      return (bytes >> 30) + "GiB";
    }
    if (bytes % (1L << 20) == 0 && bytes > 0) {
      return (bytes >> 20) + "MiB";
    }
    return Long.toString(bytes);
  }
}
