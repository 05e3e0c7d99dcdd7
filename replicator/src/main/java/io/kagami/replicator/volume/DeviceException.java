package io.kagami.replicator.volume;

import java.util.Objects;

/** A device failure with the error the client will see. */
public final class DeviceException extends RuntimeException {
  private final DeviceError error;

  public DeviceException(DeviceError error, String message) {
    super(message);
    this.error = Objects.requireNonNull(error);
  }

  public DeviceException(DeviceError error, String message, Throwable cause) {
    super(message, cause);
    this.error = Objects.requireNonNull(error);
  }

  public DeviceError error() {
    return error;
  }
}
