package io.kagami.site.config;

/**
 * One thing wrong with a configuration: the {@code file}, the {@code key} as a path into it ({@code
 * wan.listen}, {@code volumes[1].size}; empty only for a file that is not a YAML mapping at all)
 * and the {@code reason}, phrased for an operator with what would be accepted.
 *
 * <p>{@link #toString()} is the line an operator reads, {@code FILE: KEY: REASON}; when the reason
 * already names the key ({@code wan.peer is required on a primary ...}) the key is not repeated.
 */
public record ConfigProblem(String file, String key, String reason) {
  public ConfigProblem {
    key = key == null ? "" : key;
  }

  @Override
  public String toString() {
    if (key.isEmpty() || reason.contains(key)) {
      return file + ": " + reason;
    }
    return file + ": " + key + ": " + reason;
  }
}
