package io.kagami.testkit.nbd;

import java.io.IOException;

/**
 * The server answered a request with a non-zero error in its reply. The connection stays usable: an
 * error reply is an answer, not a protocol failure.
 */
public final class NbdErrorException extends IOException {
  private final int errorCode;
  private final int command;
  private final long offset;
  private final long length;

  public NbdErrorException(int errorCode, int command, long offset, long length) {
    super(
        String.format(
            "NBD %s at offset 0x%x, length %d failed: %s (%d)",
            NbdProtocol.commandName(command),
            offset,
            length,
            NbdProtocol.errorName(errorCode),
            errorCode));
    this.errorCode = errorCode;
    this.command = command;
    this.offset = offset;
    this.length = length;
  }

  /** The NBD error value, e.g. {@link NbdProtocol#EINVAL}. */
  public int errorCode() {
    return errorCode;
  }

  /** {@code "EINVAL"}, {@code "EPERM"}, ... */
  public String errorName() {
    return NbdProtocol.errorName(errorCode);
  }

  /** The request's command type, e.g. {@link NbdProtocol#CMD_WRITE}. */
  public int command() {
    return command;
  }

  public long offset() {
    return offset;
  }

  public long length() {
    return length;
  }
}
