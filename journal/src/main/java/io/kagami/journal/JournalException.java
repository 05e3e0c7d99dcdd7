package io.kagami.journal;

/**
 * The journal could not make a change durable or could not be read. A failed append means the write
 * was not journaled and must not be acknowledged.
 */
public final class JournalException extends RuntimeException {
  private final boolean noSpace;

  public JournalException(String message, Throwable cause, boolean noSpace) {
    super(message, cause);
    this.noSpace = noSpace;
  }

  public JournalException(String message) {
    super(message);
    this.noSpace = false;
  }

  /** True when the failure is the filesystem being full (the client should see ENOSPC). */
  public boolean noSpace() {
    return noSpace;
  }
}
