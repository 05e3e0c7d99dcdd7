package io.kagami.replicator.nbd;

import io.kagami.replicator.volume.BlockDevice;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A small in-memory device for the fuzz targets: every operation completes at once on the calling
 * thread (no executor, so one fuzz input is one deterministic run), and an operation outside the
 * device, which the session must have refused before, is recorded as a violation instead of being
 * done.
 */
final class CheckedMemoryDevice implements BlockDevice {
  private final String name;
  private final byte[] data;
  private final boolean readOnly;
  private final List<String> violations = new ArrayList<>();
  private final List<ByteBuf> handedOut = new ArrayList<>();

  CheckedMemoryDevice(String name, int size, boolean readOnly) {
    this.name = name;
    this.data = new byte[size];
    this.readOnly = readOnly;
  }

  /**
   * Operations the session passed on though they lie outside the device or write a read-only one.
   */
  List<String> violations() {
    return violations;
  }

  /** READ reply buffers the session has not released (it must, once written or dropped). */
  List<ByteBuf> unreleasedReads() {
    return handedOut.stream().filter(b -> b.refCnt() != 0).toList();
  }

  private boolean inside(String op, long offset, long length) {
    if (offset < 0 || length < 0 || offset + length > data.length || offset + length < 0) {
      violations.add(
          op + " at " + offset + " of " + length + " bytes on a " + data.length + "-byte device");
      return false;
    }
    return true;
  }

  private boolean writable(String op) {
    if (readOnly) {
      violations.add(op + " on read-only " + name);
      return false;
    }
    return true;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long sizeBytes() {
    return data.length;
  }

  @Override
  public boolean readOnly() {
    return readOnly;
  }

  @Override
  public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
    if (!inside("READ", offset, length)) {
      return CompletableFuture.failedFuture(new IllegalStateException("out of bounds"));
    }
    ByteBuf b = alloc.buffer(length).writeBytes(data, (int) offset, length);
    handedOut.add(b);
    return CompletableFuture.completedFuture(b);
  }

  @Override
  public CompletableFuture<Void> write(long offset, ByteBuf payload, boolean fua) {
    try {
      if (writable("WRITE") && inside("WRITE", offset, payload.readableBytes())) {
        payload.getBytes(payload.readerIndex(), data, (int) offset, payload.readableBytes());
      }
    } finally {
      payload.release();
    }
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public CompletableFuture<Void> writeZeroes(
      long offset, long length, boolean fua, boolean mayTrim) {
    if (writable("WRITE_ZEROES") && inside("WRITE_ZEROES", offset, length)) {
      java.util.Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
    }
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
    if (writable("TRIM")) {
      inside("TRIM", offset, length);
    }
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public CompletableFuture<Void> flush() {
    return CompletableFuture.completedFuture(null);
  }
}
