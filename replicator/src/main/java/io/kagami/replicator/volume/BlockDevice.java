package io.kagami.replicator.volume;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.concurrent.CompletableFuture;

/**
 * What an NBD export serves: a volume that reads, writes and flushes asynchronously.
 *
 * <p>Futures complete on a device-owned thread, never the caller's event loop; failures complete
 * exceptionally with a {@link DeviceException} whose {@link DeviceError} the NBD server maps to its
 * protocol error. A write future completes only once the write is as durable as the device's
 * replication mode demands; with {@code fua} it is also on stable storage.
 */
public interface BlockDevice {

  /** Export name, e.g. {@code vol0}. */
  String name();

  long sizeBytes();

  /**
   * A read-only device (the standby's replica) fails every modification with {@link
   * DeviceError#EPERM}.
   */
  boolean readOnly();

  /**
   * Reads {@code length} bytes at {@code offset}; the caller owns (and releases) the returned
   * buffer.
   */
  CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc);

  /**
   * Writes {@code data} at {@code offset}. Takes ownership of {@code data} and releases it. A heap
   * buffer whose array holds exactly {@link #writeHeadroom()} bytes before the data and nothing
   * after it is handed over with its array: the device may keep and change that array (the NBD
   * decoder allocates one for each write, so the device's record needs no copy of its own).
   */
  CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua);

  /**
   * Bytes a write's array should leave free before the data (see {@link #write}): the size of the
   * header of the record the device keeps the data in, or 0 when it keeps no such record.
   */
  default int writeHeadroom() {
    return 0;
  }

  /** Zeroes a range; {@code mayTrim} allows deallocating it (NBD clears it with NO_HOLE). */
  CompletableFuture<Void> writeZeroes(long offset, long length, boolean fua, boolean mayTrim);

  /** Discards a range: its content becomes unspecified (Kagami reads it back as zeroes). */
  CompletableFuture<Void> trim(long offset, long length, boolean fua);

  /** Completes once every write completed before this call is on stable storage. */
  CompletableFuture<Void> flush();
}
