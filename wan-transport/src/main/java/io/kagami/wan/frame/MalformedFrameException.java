package io.kagami.wan.frame;

import io.netty.handler.codec.CorruptedFrameException;

/**
 * A WAN frame that does not follow the protocol: bad length, unknown type, truncated body, a
 * protocol version this side does not speak. The message names what was wrong, for the one log line
 * (and the REFUSE) that precede closing the connection that sent it.
 */
public final class MalformedFrameException extends CorruptedFrameException {
  public MalformedFrameException(String message) {
    super(message);
  }
}
