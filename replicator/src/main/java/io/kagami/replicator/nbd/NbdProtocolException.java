package io.kagami.replicator.nbd;

/**
 * A client broke the protocol in a way no reply can express (bad magic, unknown client flags, an
 * absurd option, an unknown export named with NBD_OPT_EXPORT_NAME): the connection ends. The
 * message is the reason logged for the operator; it carries no stack trace because the cause is the
 * peer, not this code.
 */
final class NbdProtocolException extends RuntimeException {
  NbdProtocolException(String reason) {
    super(reason, null, false, false);
  }
}
