package io.kagami.testkit.toxi;

/** What flows through a {@link ToxicLink}: bytes as read, or the end of the stream. */
sealed interface StreamItem {

  /** Bytes read from the source; {@code timestampNanos} is when they arrived (or were released). */
  record Data(byte[] bytes, long timestampNanos) implements StreamItem {}

  /** The stream ends: the destination is closed gracefully (FIN) or reset (RST). */
  enum End implements StreamItem {
    CLOSE,
    RESET
  }
}
