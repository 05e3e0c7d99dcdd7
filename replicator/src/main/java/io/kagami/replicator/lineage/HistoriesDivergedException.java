package io.kagami.replicator.lineage;

/** A standby refuses a primary's history: the two diverged. The message says why and what to do. */
public final class HistoriesDivergedException extends Exception {
  public HistoriesDivergedException(String reason) {
    super(reason);
  }
}
