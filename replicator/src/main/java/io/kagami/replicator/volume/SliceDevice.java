package io.kagami.replicator.volume;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.concurrent.CompletableFuture;

/**
 * A named window {@code [base, base + size)} of another device, exported on its own: the members of
 * a consistency group are slices of one replicated volume, so every write to any member takes its
 * place in one journal, one shipping order and one apply order, and the standby's copy of all
 * members is always the state after one prefix of that order (a database's data and log volumes
 * recover together). The NBD layer keeps requests inside {@link #sizeBytes()}; a flush flushes the
 * whole group (all members share one journal, so that is what durability means here).
 */
public final class SliceDevice implements BlockDevice {
  private final String name;
  private final BlockDevice group;
  private final long base;
  private final long sizeBytes;

  public SliceDevice(String name, BlockDevice group, long base, long sizeBytes) {
    if (base < 0 || sizeBytes <= 0 || base + sizeBytes > group.sizeBytes()) {
      throw new IllegalArgumentException(
          "slice "
              + name
              + " ["
              + base
              + ", +"
              + sizeBytes
              + ") does not fit in "
              + group.name()
              + " of "
              + group.sizeBytes()
              + " bytes");
    }
    this.name = name;
    this.group = group;
    this.base = base;
    this.sizeBytes = sizeBytes;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public long sizeBytes() {
    return sizeBytes;
  }

  @Override
  public boolean readOnly() {
    return group.readOnly();
  }

  private void check(long offset, long length) {
    if (offset < 0 || length < 0 || offset + length > sizeBytes) {
      throw new IllegalArgumentException(
          "request ["
              + offset
              + ", +"
              + length
              + ") outside "
              + name
              + " of "
              + sizeBytes
              + " bytes");
    }
  }

  @Override
  public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
    check(offset, length);
    return group.read(base + offset, length, alloc);
  }

  @Override
  public CompletableFuture<Void> write(long offset, ByteBuf data, boolean fua) {
    try {
      check(offset, data.readableBytes());
    } catch (IllegalArgumentException e) {
      data.release();
      throw e;
    }
    return group.write(base + offset, data, fua);
  }

  @Override
  public int writeHeadroom() {
    return group.writeHeadroom();
  }

  @Override
  public CompletableFuture<Void> writeZeroes(
      long offset, long length, boolean fua, boolean mayTrim) {
    check(offset, length);
    return group.writeZeroes(base + offset, length, fua, mayTrim);
  }

  @Override
  public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
    check(offset, length);
    return group.trim(base + offset, length, fua);
  }

  @Override
  public CompletableFuture<Void> flush() {
    return group.flush();
  }
}
