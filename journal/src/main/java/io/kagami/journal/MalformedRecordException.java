package io.kagami.journal;

/** A journal record or entry whose bytes do not follow the documented layout. */
public final class MalformedRecordException extends RuntimeException {
  public MalformedRecordException(String message) {
    super(message);
  }
}
