package io.kagami.replicator.nbd;

import io.kagami.replicator.volume.BlockDevice;
import io.kagami.replicator.volume.DeviceError;
import io.kagami.replicator.volume.DeviceException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * An in-memory {@link BlockDevice} whose futures complete on its own executor threads, never the
 * caller's. Tests can hold operations and complete them in any order, make the next operation fail,
 * and inspect what the server asked for and whether every buffer it handed over was released.
 */
final class MemoryBlockDevice implements BlockDevice, AutoCloseable {
  /** One call the server made. */
  record Call(String op, long offset, long length, boolean fua, boolean mayTrim) {}

  /** An operation held back until the test releases it. */
  final class Held {
    final Call call;
    private final Runnable run;

    private Held(Call call, Runnable run) {
      this.call = call;
      this.run = run;
    }

    /** Performs the operation and completes its future on the device's executor. */
    void release() {
      executor.execute(run);
    }

    /**
     * Performs the operation and completes its future on the calling thread (for EmbeddedChannel).
     */
    void runHere() {
      run.run();
    }
  }

  private final String name;
  private final byte[] data;
  private final boolean readOnly;
  private final ExecutorService executor;
  private final List<Call> calls = new ArrayList<>();
  private final List<ByteBuf> handedOut = new ArrayList<>();
  private final List<ByteBuf> received = new ArrayList<>();
  private final BlockingQueue<Held> held = new LinkedBlockingQueue<>();
  private final AtomicInteger outstanding = new AtomicInteger();
  private final AtomicInteger maxOutstanding = new AtomicInteger();
  private final AtomicLong flushes = new AtomicLong();
  private final AtomicReference<Supplier<Throwable>> nextFailure = new AtomicReference<>();
  private final AtomicReference<RuntimeException> nextThrow = new AtomicReference<>();
  private volatile boolean holding;

  MemoryBlockDevice(String name, int size, boolean readOnly, int threads) {
    this.name = name;
    this.data = new byte[size];
    this.readOnly = readOnly;
    AtomicInteger n = new AtomicInteger();
    this.executor =
        Executors.newFixedThreadPool(
            threads,
            r ->
                Thread.ofPlatform()
                    .daemon()
                    .name("test-device-" + name + "-" + n.incrementAndGet())
                    .unstarted(r));
  }

  static MemoryBlockDevice writable(String name, int size) {
    return new MemoryBlockDevice(name, size, false, 2);
  }

  static MemoryBlockDevice readOnly(String name, int size) {
    return new MemoryBlockDevice(name, size, true, 1);
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

  /** From now on operations wait for {@link #awaitHeld()} and {@link Held#release()}. */
  void hold() {
    holding = true;
  }

  /** The next held operation, waiting up to 10 s for the server to issue it. */
  Held awaitHeld() throws InterruptedException {
    Held h = held.poll(10, TimeUnit.SECONDS);
    if (h == null) {
      throw new AssertionError("the server issued no further device operation within 10 s");
    }
    return h;
  }

  int heldCount() {
    return held.size();
  }

  /** The next operation's future fails with this (a DeviceException or anything else). */
  void failNext(Supplier<Throwable> failure) {
    nextFailure.set(failure);
  }

  /** The next operation throws this from the call itself instead of returning a future. */
  void throwNext(RuntimeException e) {
    nextThrow.set(e);
  }

  synchronized List<Call> calls() {
    return List.copyOf(calls);
  }

  long flushes() {
    return flushes.get();
  }

  int maxOutstanding() {
    return maxOutstanding.get();
  }

  /** Buffers handed to or received from the server that nobody released. */
  synchronized List<String> unreleasedBuffers() {
    List<String> out = new ArrayList<>();
    for (ByteBuf b : handedOut) {
      if (b.refCnt() != 0) {
        out.add("READ reply buffer " + b);
      }
    }
    for (ByteBuf b : received) {
      if (b.refCnt() != 0) {
        out.add("WRITE payload " + b);
      }
    }
    return out;
  }

  byte[] snapshot(int offset, int length) {
    synchronized (data) {
      byte[] out = new byte[length];
      System.arraycopy(data, offset, out, 0, length);
      return out;
    }
  }

  void fill(int offset, byte[] bytes) {
    synchronized (data) {
      System.arraycopy(bytes, 0, data, offset, bytes.length);
    }
  }

  @Override
  public CompletableFuture<ByteBuf> read(long offset, int length, ByteBufAllocator alloc) {
    return submit(
        new Call("read", offset, length, false, false),
        null,
        () -> {
          ByteBuf b = alloc.buffer(length);
          synchronized (data) {
            b.writeBytes(data, (int) offset, length);
          }
          synchronized (this) {
            handedOut.add(b);
          }
          return b;
        });
  }

  @Override
  public CompletableFuture<Void> write(long offset, ByteBuf payload, boolean fua) {
    synchronized (this) {
      received.add(payload);
    }
    return submit(
        new Call("write", offset, payload.readableBytes(), fua, false),
        payload,
        () -> {
          modify();
          synchronized (data) {
            payload.getBytes(payload.readerIndex(), data, (int) offset, payload.readableBytes());
          }
          payload.release();
          return null;
        });
  }

  @Override
  public CompletableFuture<Void> writeZeroes(
      long offset, long length, boolean fua, boolean mayTrim) {
    return submit(
        new Call("writeZeroes", offset, length, fua, mayTrim), null, () -> zero(offset, length));
  }

  @Override
  public CompletableFuture<Void> trim(long offset, long length, boolean fua) {
    return submit(new Call("trim", offset, length, fua, true), null, () -> zero(offset, length));
  }

  @Override
  public CompletableFuture<Void> flush() {
    return submit(
        new Call("flush", 0, 0, false, false),
        null,
        () -> {
          flushes.incrementAndGet();
          return null;
        });
  }

  private Void zero(long offset, long length) {
    modify();
    synchronized (data) {
      java.util.Arrays.fill(data, (int) offset, (int) (offset + length), (byte) 0);
    }
    return null;
  }

  private void modify() {
    if (readOnly) {
      throw new DeviceException(DeviceError.EPERM, "test device " + name + " is read-only");
    }
  }

  private <T> CompletableFuture<T> submit(Call call, ByteBuf payload, Supplier<T> op) {
    synchronized (this) {
      calls.add(call);
    }
    RuntimeException toThrow = nextThrow.getAndSet(null);
    if (toThrow != null) {
      if (payload != null) {
        payload.release();
      }
      throw toThrow;
    }
    int now = outstanding.incrementAndGet();
    maxOutstanding.accumulateAndGet(now, Math::max);
    Supplier<Throwable> failure = nextFailure.getAndSet(null);
    CompletableFuture<T> f = new CompletableFuture<>();
    Runnable run =
        () -> {
          outstanding.decrementAndGet();
          if (failure != null) {
            if (payload != null) {
              payload.release();
            }
            f.completeExceptionally(failure.get());
            return;
          }
          try {
            f.complete(op.get());
          } catch (Throwable t) {
            if (payload != null && payload.refCnt() > 0) {
              payload.release();
            }
            f.completeExceptionally(t);
          }
        };
    if (holding) {
      held.add(new Held(call, run));
    } else {
      executor.execute(run);
    }
    return f;
  }

  @Override
  public void close() {
    executor.shutdownNow();
  }
}
