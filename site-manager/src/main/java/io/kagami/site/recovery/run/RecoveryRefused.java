package io.kagami.site.recovery.run;

/** A recovery request refused before anything changed, with the operator's reason. */
public final class RecoveryRefused extends RuntimeException {
  public RecoveryRefused(String message) {
    super(message);
  }
}
