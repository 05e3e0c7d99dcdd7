package io.kagami.testkit.nbd;

import java.io.IOException;

/** The server refused the export during the handshake with an error option reply. */
public final class NbdHandshakeException extends IOException {
  private final int replyType;

  public NbdHandshakeException(String exportName, int replyType, String serverMessage) {
    super(
        "server refused export \""
            + exportName
            + "\": "
            + NbdProtocol.replyTypeName(replyType)
            + (serverMessage.isEmpty() ? "" : " (" + serverMessage + ")"));
    this.replyType = replyType;
  }

  /** The option reply type, e.g. {@link NbdProtocol#REP_ERR_UNKNOWN}. */
  public int replyType() {
    return replyType;
  }
}
