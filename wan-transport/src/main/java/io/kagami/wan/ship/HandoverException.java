package io.kagami.wan.ship;

import java.io.IOException;

/**
 * Why a planned switchover ({@link Shipper#handover}) did not complete, typed so that callers
 * decide on the {@link #kind()}, never on the message text (which is for operators).
 */
public final class HandoverException extends IOException {
  private static final long serialVersionUID = 1L;

  /** What the primary knows about the standby after the failure. */
  public enum Kind {
    /**
     * HANDOVER was never sent (the link is down, a volume is not acknowledged through its end): the
     * standby heard nothing.
     */
    NOT_SENT,
    /** The standby answered REFUSE: it changed nothing and stays the standby. */
    REFUSED,
    /**
     * HANDOVER may have reached the standby but no answer came (sending failed, the link ended):
     * whether it took over is unknown.
     */
    UNANSWERED
  }

  private final Kind kind;

  public HandoverException(Kind kind, String message) {
    super(message);
    this.kind = kind;
  }

  public HandoverException(Kind kind, String message, Throwable cause) {
    super(message, cause);
    this.kind = kind;
  }

  public Kind kind() {
    return kind;
  }
}
