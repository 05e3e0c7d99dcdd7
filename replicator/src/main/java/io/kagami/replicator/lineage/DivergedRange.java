package io.kagami.replicator.lineage;

/**
 * A byte range of a volume: where a write landed, or where a replica differs from its history.
 *
 * @param offset first byte
 * @param length bytes, at least 1
 */
public record DivergedRange(long offset, long length) {
  public DivergedRange {
    if (offset < 0 || length <= 0) {
      throw new IllegalArgumentException("range at " + offset + " of " + length + " bytes");
    }
  }

  /** The first byte after the range. */
  public long end() {
    return offset + length;
  }
}
