package io.kagami.wan.frame;

/** A WAN frame that does not follow the protocol; the connection that sent it is closed. */
public final class MalformedFrameException extends RuntimeException {
  public MalformedFrameException(String message) {
    super(message);
  }
}
