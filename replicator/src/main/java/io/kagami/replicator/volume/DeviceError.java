package io.kagami.replicator.volume;

/** Why a device refused or failed a request; each maps to the NBD error of the same name. */
public enum DeviceError {
  /** Modification of a read-only device (standby replica). */
  EPERM,
  /** Local I/O or journal failure: the request may not have happened. */
  EIO,
  /** The journal or volume filesystem is full. */
  ENOSPC,
  /** Range outside the device or otherwise invalid request. */
  EINVAL,
  /** The device is shutting down or fenced and acknowledges nothing more. */
  ESHUTDOWN
}
